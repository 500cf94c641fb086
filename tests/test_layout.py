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


def _import_graph() -> dict[str, set[str]]:
    """Module → the xuncha modules it imports when it is imported (module-level statements only: imports inside
    functions and under `if TYPE_CHECKING:` run later or never, so they make no circle at import time)."""
    import ast

    modules = {".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__"): p
               for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        deps: set[str] = set()
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Import):
                deps |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = name.split(".")[: len(name.split(".")) - node.level + (path.name == "__init__.py")]
                    base = ".".join([*parts, *([node.module] if node.module else [])])
                deps |= {base, *(f"{base}.{a.name}" for a in node.names)}
        graph[name] = {d for d in deps if d in modules and d != name}
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan), i.e. the import circles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while (w := stack.pop()) != v:
                component.append(w)
            if component:
                found.append(sorted([v, *component]))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_circle_between_modules_or_between_stage_packages():
    """Issue 22: the stages import one way (extract → normalize → validate → load; warehouse and the root
    definitions under all of them). A circle between two modules, or between two stage packages through any of
    their modules, fails here with the modules that make it."""
    graph = _import_graph()
    assert not _circles(graph), _circles(graph)

    def package(module: str) -> str:
        return ".".join(module.split(".")[:2])

    packages: dict[str, set[str]] = {}
    via: dict[tuple[str, str], str] = {}
    for module, deps in graph.items():
        for dep in deps:
            if package(module) != package(dep):
                packages.setdefault(package(module), set()).add(package(dep))
                via.setdefault((package(module), package(dep)), f"{module} → {dep}")
    circles = _circles(packages)
    assert not circles, [(c, [via[(a, b)] for a in c for b in c if (a, b) in via]) for c in circles]
