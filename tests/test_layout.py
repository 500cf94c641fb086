"""The shape of the code base the architecture note promises: the product without the simulators, small modules."""

from __future__ import annotations

import subprocess
import sys

from xuncha.settings import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "plugins" / "xuncha"


def test_every_product_module_imports_without_the_simulators():
    """A production image carries plugins/ only: nothing in xuncha may need xuncha_sim at import time."""
    modules = sorted(".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
                     for p in PACKAGE.rglob("*.py"))
    code = ("import importlib, sys\nsys.modules['xuncha_sim'] = None\n"
            f"for m in {modules!r}:\n    importlib.import_module(m)\nprint(len({modules!r}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert int(out.stdout.strip().splitlines()[-1]) == len(modules) > 30  # log lines (warnings) may come first


def test_the_production_image_copies_no_simulator():
    sources = [src for line in (PROJECT_ROOT / "Dockerfile").read_text().splitlines() if line.startswith("COPY ")
               for src in line.split()[1:-1] if not src.startswith("--")]
    assert "plugins/" in sources and not any(src.startswith("sim") for src in sources), sources
    assert not list(PACKAGE.rglob("generator")) and not (PACKAGE / "countyserver.py").exists()


def test_no_library_module_is_over_400_lines_and_no_dag_file_over_80():
    long = {str(p.relative_to(PROJECT_ROOT)): n for p in [*PACKAGE.rglob("*.py"), *(PROJECT_ROOT / "sim").rglob("*.py")]
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400}
    assert not long, long
    dags = {p.name: n for p in (PROJECT_ROOT / "dags").glob("*.py") if (n := len(p.read_text(encoding="utf-8").splitlines())) >= 80}
    assert not dags, dags


def test_every_public_function_and_class_of_the_product_has_a_docstring():
    """House rule: public functions, classes and methods (not `_private`, not nested in a function) say shapes,
    units, errors and the source of their rules in a docstring."""
    import ast

    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        def walk(node, prefix=""):
            for n in ast.iter_child_nodes(node):
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and not n.name.startswith("_"):
                    if ast.get_docstring(n) is None:
                        missing.append(f"{path.relative_to(PROJECT_ROOT)}:{n.lineno} {prefix}{n.name}")
                    if isinstance(n, ast.ClassDef):
                        walk(n, f"{prefix}{n.name}.")
        walk(ast.parse(path.read_text(encoding="utf-8")))
    assert not missing, missing


def test_only_orchestration_imports_airflow():
    """The library works without a scheduler: outside `xuncha/orchestration/` no module imports Airflow
    (DAG files and the Airflow plugin files in plugins/ may)."""
    import ast

    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "orchestration" in path.relative_to(PACKAGE).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            offenders += [f"{path.relative_to(PROJECT_ROOT)}:{node.lineno} {n}" for n in names
                          if n == "airflow" or n.startswith("airflow.")]
    assert not offenders, offenders


def test_every_stage_package_says_what_it_owns_and_may_import():
    """Each folder of the library has an `__init__` docstring naming what it owns and what it may import."""
    import ast

    silent = [str(p.relative_to(PROJECT_ROOT)) for p in PACKAGE.rglob("__init__.py")
              if p.parent.name not in ("cli", "spec")
              and "import" not in (ast.get_docstring(ast.parse(p.read_text(encoding="utf-8"))) or "")]
    assert not silent, silent
