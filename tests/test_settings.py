"""lab.settings owns every CNNLAB_* variable: no other module reads one from the environment, every
name the code uses is declared with its type, default and why, and the README's table lists them."""

from __future__ import annotations

import re

import pytest

from lab import settings
from tests.conftest import ROOT

SOURCES = [ROOT / "app.py", *(ROOT / folder for folder in ("lab", "app_pages", "deploy", "models"))]
READ = re.compile(
    r"""os\.(?:environ\.get|getenv)\(\s*["'](CNNLAB_\w+)|os\.environ\[["'](CNNLAB_\w+)["']\](?!\s*=[^=])"""
)
NAME = re.compile(r"\bCNNLAB_[A-Z_]+[A-Z]\b")


def files():
    for source in SOURCES:
        yield from sorted(source.rglob("*.py")) if source.is_dir() else [source]


def test_no_module_but_settings_reads_a_cnnlab_variable():
    reads = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for path in files()
        if path.name != "settings.py" or path.parent.name != "lab"
        for match in READ.finditer(path.read_text())
    ]
    assert not reads, reads


def test_every_name_the_code_uses_is_declared_and_the_readme_lists_them_all():
    used = {name for path in files() for name in NAME.findall(path.read_text())}
    assert used <= set(settings.SETTINGS), used - set(settings.SETTINGS)
    readme = set(NAME.findall((ROOT / "README.md").read_text()))
    assert set(settings.SETTINGS) <= readme, set(settings.SETTINGS) - readme
    assert readme <= set(settings.SETTINGS), readme - set(settings.SETTINGS)
    assert all(setting.why and setting.name.startswith("CNNLAB_") for setting in settings.SETTINGS.values())


@pytest.mark.parametrize(
    ("name", "raw", "expected"),
    [
        ("CNNLAB_MAX_QUEUED", "7", 7),
        ("CNNLAB_MAX_QUEUED", "lots", 100),  # a typo falls back to the default, it does not stop a server
        ("CNNLAB_REUSE_TRACES", "0", False),
        ("CNNLAB_SUPERVISOR", "", True),
        ("CNNLAB_GPU_MEMORY_FRACTION", "0.5", 0.5),
        ("CNNLAB_DATABASE_URL", None, None),
    ],
)
def test_values_are_parsed_as_their_type(name, raw, expected, monkeypatch):
    if raw is None:
        monkeypatch.delenv(name, raising=False)
    else:
        monkeypatch.setenv(name, raw)
    assert settings.get(name) == expected
