"""`make up` stops on Ctrl-C, all of its processes (issue 28; xuncha.orchestration.stack.supervise, what `xuncha up`
runs `airflow standalone` under).

A real supervisor process runs a stand-in for `airflow standalone` that behaves as it does on Ctrl-C: it ignores
SIGINT and never reaps its components; its components include one that left the process group (its own session),
an orphaned grandchild, and (one case) one that ignores SIGTERM. The test sends SIGINT to the whole foreground
process group, as a terminal does on Ctrl-C, and checks that every process is gone (not even a zombie), in bounded
time. Starting the real Airflow stack takes minutes; the supervisor's code path is the one `xuncha up` runs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

STANDALONE = r"""
import os, signal, subprocess, sys, time
pids, stubborn = sys.argv[1], sys.argv[2] == "1"
sleep = [sys.executable, "-c", "import time; time.sleep(600)"]
kids = [subprocess.Popen(sleep) for _ in range(2)]                       # scheduler, api-server
kids.append(subprocess.Popen(sleep, start_new_session=True))              # one that left the process group
if stubborn:                                                              # one that ignores SIGTERM
    kids.append(subprocess.Popen([sys.executable, "-c",
                                  "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"]))
middle = subprocess.run([sys.executable, "-c", "import subprocess, sys; "
                         "print(subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'], "
                         "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).pid)"],
                        capture_output=True, text=True)                   # its grandchild is orphaned at once
signal.signal(signal.SIGINT, signal.SIG_IGN)                              # standalone does not stop on Ctrl-C
with open(pids + ".tmp", "w") as f:
    f.write(" ".join(str(p) for p in [os.getpid(), *(k.pid for k in kids), int(middle.stdout)]))
os.rename(pids + ".tmp", pids)
if len(sys.argv) > 3:                                                     # ends by itself, leaving its components
    sys.exit(int(sys.argv[3]))
while True:
    time.sleep(1)                                                         # never reaps: dead components stay zombies
"""
SUPERVISOR = ("import sys; from xuncha.orchestration import stack; "
              "sys.exit(stack.supervise(sys.argv[2:], None, grace_seconds=float(sys.argv[1])))")


def _up(tmp_path, grace: float, *standalone_args: str) -> tuple[subprocess.Popen, list[int]]:
    """The supervisor in a process group of its own (as a terminal's foreground job) and the pids it runs."""
    pids = tmp_path / "pids"
    proc = subprocess.Popen([sys.executable, "-c", SUPERVISOR, str(grace), sys.executable, "-c", STANDALONE, str(pids),
                             *standalone_args], start_new_session=True, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not pids.exists() and time.monotonic() < deadline and (proc.poll() is None or standalone_args[1:]):
        time.sleep(0.1)
    if not pids.exists():
        os.killpg(proc.pid, signal.SIGTERM)   # the supervisor stops what it started
        pytest.fail(f"the stand-in never started its components: {proc.communicate(timeout=30)[1][-2000:]}")
    return proc, [int(p) for p in pids.read_text().split()]


def _left(pids: list[int]) -> list[str]:
    out = []
    for pid in pids:
        try:
            out.append(f"{pid} {psutil.Process(pid).status()}")
        except psutil.NoSuchProcess:
            pass
    return out


@pytest.mark.parametrize("stubborn", [False, True], ids=["components-stop-on-sigterm", "one-ignores-sigterm"])
def test_ctrl_c_stops_the_stack_and_every_process_it_started(tmp_path, stubborn):
    grace = 3.0
    proc, pids = _up(tmp_path, grace, "1" if stubborn else "0")
    try:
        assert len(pids) == (6 if stubborn else 5) and not [p for p in _left(pids) if p.endswith("zombie")]
        time.sleep(0.5)
        started = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)   # Ctrl-C: the terminal signals the whole foreground process group
        assert proc.wait(timeout=grace + 30) == 130
        took = time.monotonic() - started
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert _left(pids) == [], "processes left after Ctrl-C"
    assert took < (grace + 10 if stubborn else grace), f"stopping took {took:.1f} s"


def test_a_stack_that_ends_by_itself_leaves_no_component_behind(tmp_path):
    proc, pids = _up(tmp_path, 3.0, "0", "3")
    assert proc.wait(timeout=30) == 3
    assert _left(pids) == []


def test_a_killed_supervisor_still_stops_the_stack_it_ran(tmp_path):
    """Even SIGKILL of the supervisor (nothing of ours runs) gives the stand-in the SIGTERM standalone stops on."""
    proc, pids = _up(tmp_path, 3.0, "0")
    try:
        proc.kill()
        proc.wait(10)
        deadline = time.monotonic() + 10
        while psutil.pid_exists(pids[0]) and psutil.Process(pids[0]).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline, "the stand-in outlived its supervisor"
            time.sleep(0.1)
    finally:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
