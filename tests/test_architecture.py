"""The project's structural rules: data flows pages -> lab -> models, never back."""

from __future__ import annotations

import ast
import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT

BACKEND_FILES = sorted([*ROOT.glob("lab/**/*.py"), *ROOT.glob("models/**/*.py"), *ROOT.glob("recipes/**/*.py")])
ENTRY_POINT = re.compile(r"^((?:lab|models|recipes)(?:\.\w+)+):\w+$")  # "lab.training:run", imported by name
PAGE_FILES = sorted(path for path in ROOT.glob("app_pages/*.py") if not path.name.startswith("_"))


def imported_names(path) -> set[str]:
    """Every module ``path`` imports, at any depth of the file (lazy imports count), fully named;
    ``from lab import jobs`` counts as ``lab.jobs``. Imports by name count too: ``import_module`` of a
    literal or of a module constant, and ``"module:attribute"`` entry points (a run kind's runner)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    constants = {
        node.targets[0].id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
        and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
    }  # fmt: skip
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module":
            argument = node.args[0] if node.args else None
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                names.add(argument.value)
            elif isinstance(argument, ast.Name) and argument.id in constants:
                names.add(constants[argument.id])
        elif (
            isinstance(node, ast.Constant) and isinstance(node.value, str) and (match := ENTRY_POINT.match(node.value))
        ):
            names.add(match[1])
    return names


def imported_modules(path) -> set[str]:
    return {name.split(".")[0] for name in imported_names(path)}


def module_name(path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def backend_graph() -> dict[str, set[str]]:
    """lab/ and models/ as a graph: module -> the backend modules it imports."""
    modules = {module_name(path): path for path in BACKEND_FILES}
    graph = {}
    for name, path in modules.items():
        targets = {target for target in imported_names(path) if target in modules and target != name}
        graph[name] = targets
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle as a list of modules (first == last), or None: depth-first search with colours."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return [*stack[stack.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_backend_import_graph_has_no_cycle():
    cycle = find_cycle(backend_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_imports_by_name_are_edges_too(tmp_path):
    """lab.jobs loaded lab.ray_pool with importlib, hiding jobs -> ray_pool -> worker -> jobs from this test."""
    source = tmp_path / "by_name.py"
    source.write_text(
        'import importlib\nPOOL = "lab.ray_pool"\nKINDS = {"train": ("lab.training:TrainConfig", "lab.training:run")}\n'
        "def f():\n    return importlib.import_module(POOL), importlib.import_module('lab.worker')\n"
    )
    assert {"lab.ray_pool", "lab.worker", "lab.training"} <= imported_names(source)


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_models_never_import_lab():
    """Data flows app_pages -> lab -> models: a builder knows nothing of the lab."""
    for name, targets in backend_graph().items():
        if name.startswith("models"):
            assert not {t for t in targets if t.startswith("lab")}, name


RECIPE_FILES = sorted(ROOT.glob("recipes/**/*.py"))


@pytest.mark.parametrize("path", RECIPE_FILES, ids=lambda path: path.name)
def test_recipes_are_plain_libraries_and_never_import_lab_or_streamlit(path):
    """A recipe is what a learner runs without the app: NumPy, Pillow, TensorFlow, Keras, scikit-learn."""
    assert not imported_modules(path) & {"lab", "streamlit", "app_pages"}, imported_modules(path)


def test_the_run_registry_knows_no_run_kind():
    """lab.jobs is generic: kinds live in lab.worker's table, and jobs imports no tool."""
    source = (ROOT / "lab" / "jobs.py").read_text()
    from lab import worker

    for kind in worker.KINDS:
        assert f'"{kind}"' not in source and f"'{kind}'" not in source, kind
    tools = {"lab.training", "lab.finetune", "lab.classify", "lab.worker"}
    assert not tools & backend_graph()["lab.jobs"]


@pytest.mark.parametrize("path", PAGE_FILES, ids=lambda path: path.name)
def test_pages_never_import_models_directly(path):
    assert "models" not in imported_modules(path)


def test_the_formatter_owns_the_layout():
    sources = [*ROOT.glob("*.py"), *ROOT.glob("app_pages/*.py"), *BACKEND_FILES, *ROOT.glob("tests/*.py")]
    sources += ROOT.glob("benchmarks/*.py")
    skips = sum(path.read_text().count("fmt: skip") for path in sources)
    assert skips <= 10, f"{skips} '# fmt: skip' in the tree; the formatter owns the layout"


@pytest.mark.parametrize("path", BACKEND_FILES, ids=lambda path: str(path.relative_to(ROOT)))
def test_backend_never_imports_streamlit_or_pages(path):
    assert not {"streamlit", "app_pages"} & imported_modules(path)


def test_every_page_is_in_the_navigation_and_thin():
    from app_pages import NAVIGATION

    listed = {entry[0] for entries in NAVIGATION.values() for entry in entries}
    assert listed == {f"app_pages/{page.name}" for page in PAGE_FILES}
    for page in PAGE_FILES:
        assert len(page.read_text().splitlines()) <= 150, f"{page.name} is not thin"


def test_no_legacy_pages_folder():
    """A pages/ folder beside app.py switches Streamlit to v1 routing for deep links."""
    assert not (ROOT / "pages").exists()


def test_importing_lab_and_the_app_helpers_does_not_import_tensorflow():
    code = "import sys, lab, lab.errors, lab.images; print('tensorflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == "False"


def test_requirements_pin_the_safe_floors():
    text = (ROOT / "requirements.txt").read_text()
    assert re.search(r"^keras>=3\.15\.1", text, re.M)
    assert re.search(r"^pillow>=12\.2", text, re.M)
    assert re.search(r"^tensorflow-cpu>=2\.21,<2\.22", text, re.M)
    assert re.search(r"^importlib_resources", text, re.M)


def test_the_shared_run_panel_knows_no_run_kind():
    """What is special to a kind comes from its page or its module, not from `run.kind == ...` here."""
    import re

    source = (ROOT / "app_pages" / "_runs.py").read_text()
    assert not re.search(r"\.kind\s*[!=]=", source)


def test_every_picture_a_page_shows_has_alternative_text():
    """axe's image-alt (critical): the pooling page showed three pictures no screen reader could name."""
    missing = []
    for path in sorted(ROOT.glob("app_pages/*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            is_image = isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "image"
            if is_image and not any(keyword.arg == "alt" for keyword in node.keywords):
                missing.append(f"{path.name}:{node.lineno}")
    assert missing == []
