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
