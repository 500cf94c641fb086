# Xuncha — two commands on a fresh machine: `make demo` and `make test`.
# Everything installs from requirements.lock (hash-pinned) into .venv; state lives in .xuncha/ (git-ignored).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
UV_VERSION := 0.13.9
# dlt, for the benchmark only (issue 16): its own venv, never in requirements.lock or pyproject's dependencies.
DLT_VENV  := .venv-bench-dlt
DLT_STAMP := $(DLT_VENV)/.installed-$(shell cat bench/requirements-dlt.txt | cksum | cut -d' ' -f1)
# Let Python keep its .pyc files (in .venv and git-ignored __pycache__): without them every Airflow
# subprocess recompiles Airflow and Great Expectations, seconds each time.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: install sysdeps setup demo test test-e2e test-up test-seed test-scaleout test-inputs test-hardening soak up down status bench bench-quick bench-dlt lock lock-bench-dlt clean help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

# The stamp's name holds the lock's and pyproject's content hash: a change of content names a new stamp (re-install);
# their file times (a fresh clone's are all new) do not matter, hence order-only prerequisites.
$(STAMP): | requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip install --quiet --python $(BIN)/python --require-hashes -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)  ## create .venv and install the locked dependencies

sysdeps:  ## install the Debian packages of config/apt-packages.txt that are missing (as root)
	@bash .ci/sysdeps

setup: install  ## start the embedded PostgreSQL, migrate the warehouse, initialise Airflow
	$(BIN)/xuncha setup

demo: install  ## the main job: a window of seed nights through the real DAGs, then the marts
	$(BIN)/xuncha demo

test: install sysdeps  ## the test suite (starts its own PostgreSQL; never touches .xuncha/), under 15 min
	$(BIN)/pytest

test-e2e: install sysdeps  ## the end-to-end runs: real DAG runs, the browser, the generator's fault world, the short soak (~8 min)
	$(BIN)/pytest -m slow

test-inputs: install sysdeps  ## every real-fault input of ../shared/inputs and ../shared/inputs-new, the input-truth properties (hypothesis) and the report fields, a few min
	$(BIN)/pytest -m inputs

test-hardening: install sysdeps  ## faults and attacks against real servers and processes: lineage lock, intake bounds, pull deadline (~8 min)
	$(BIN)/pytest -m hardening

test-scaleout: install sysdeps  ## two real Celery workers under the real scheduler, one killed mid-task (4-16 min)
	$(BIN)/pytest -m scaleout

test-up: install sysdeps  ## `make up` from a fresh shell: UI, login, unpause from go-live, a task run (a few minutes)
	$(BIN)/pytest -m up

test-seed: install  ## the whole seed term through the pipeline against the published figures (about 16 min)
	$(BIN)/pytest -m seed

soak: install sysdeps  ## 30 seed nights x every county system with kills, restarts and every generator fault; must end equal to the truth (summary: .xuncha/soak-summary.json)
	$(BIN)/python tests/soak.py --nights 30 --profile seed --summary .xuncha/soak-summary.json

$(DLT_STAMP): | bench/requirements-dlt.txt $(STAMP)
	@test -x $(DLT_VENV)/bin/python || $(PYTHON) -m venv --without-pip $(DLT_VENV)
	$(BIN)/uv pip install --quiet --python $(DLT_VENV)/bin/python --require-hashes -r bench/requirements-dlt.txt
	@rm -f $(DLT_VENV)/.installed-* && touch $@

bench-dlt: $(DLT_STAMP)  ## the benchmark's own venv with dlt (.venv-bench-dlt from bench/requirements-dlt.txt; not the product's lock)

bench: install sysdeps bench-dlt  ## benchmarks: load vs COPY/to_sql/dlt, memory, nightly fan-out (dags test, and the real scheduler on Local and Celery executors), the seed term's catch-up under the scheduler, marts at scale, one small export (prints a table; hours on 2 cores)
	$(BIN)/python bench/run.py

bench-quick: install sysdeps bench-dlt  ## the benchmarks at small sizes (a smoke run; the real-scheduler cases make it tens of minutes)
	$(BIN)/python bench/run.py --quick

PORT ?= 8080
up: install  ## Airflow UI and scheduler on http://localhost:$(PORT) (make up PORT=8090); prints the address and login once it answers; Ctrl-C stops it
	$(BIN)/xuncha up --port $(PORT)

down:  ## stop what make up left running (its Airflow services) and the embedded PostgreSQL server (data is kept), saying each
	$(BIN)/xuncha db stop

status: install  ## where the warehouse is and what is applied
	$(BIN)/xuncha db status

lock:  ## re-resolve requirements.lock from pyproject.toml
	$(BIN)/uv pip compile pyproject.toml --extra test --python-version 3.11 \
	    --python-platform x86_64-manylinux_2_28 --generate-hashes -o requirements.lock

lock-bench-dlt:  ## re-pin bench/requirements-dlt.txt (the benchmark's dlt) from bench/requirements-dlt.in
	$(BIN)/uv pip compile bench/requirements-dlt.in --python-version 3.11 \
	    --python-platform x86_64-manylinux_2_28 --generate-hashes -o bench/requirements-dlt.txt

clean:  ## remove .venv, the benchmark's dlt venv and all local state (embedded database included)
	-$(BIN)/xuncha db stop
	rm -rf $(VENV) $(DLT_VENV) .xuncha
