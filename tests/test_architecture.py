"""The project's structural rules: data flows pages -> lab -> models, never back."""

from __future__ import annotations

import ast
import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT

BACKEND_FILES = sorted([*ROOT.glob("lab/**/*.py"), *ROOT.glob("models/**/*.py")])
PAGE_FILES = sorted(path for path in ROOT.glob("app_pages/*.py") if not path.name.startswith("_"))


def imported_modules(path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", BACKEND_FILES, ids=lambda path: str(path.relative_to(ROOT)))
def test_backend_never_imports_streamlit_or_pages(path):
    assert not {"streamlit", "app_pages"} & imported_modules(path)


def test_every_page_is_in_the_navigation_and_thin():
    from app_pages import NAVIGATION

    listed = {entry[0] for entries in NAVIGATION.values() for entry in entries}
    assert listed == {f"app_pages/{page.name}" for page in PAGE_FILES}
    for page in PAGE_FILES:
        assert len(page.read_text().splitlines()) <= 200, f"{page.name} is not thin"


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
