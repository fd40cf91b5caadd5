"""Anything on a page that can take more than a second says what it is doing: each slow lab call sits
inside ``st.spinner`` (a 6.5 s classifier rerun showed only faded content)."""

from __future__ import annotations

import ast

import pytest

from tests.conftest import ROOT

SLOW_CALLS = {  # lab calls that take seconds on a CPU (a model's forward pass or gradient, TensorFlow's import)
    "classify.classify",
    "classify.grad_cam",
    "classify.look_inside",
    "device_info",
}
SOURCES = [ROOT / "app.py", *sorted((ROOT / "app_pages").glob("*.py"))]


def dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return f"{dotted(node.value)}.{node.attr}"
    return node.id if isinstance(node, ast.Name) else ""


def spinner_parents(tree: ast.AST) -> dict[ast.AST, bool]:
    """Each call node, and whether a ``with st.spinner(...)`` encloses it."""
    found: dict[ast.AST, bool] = {}

    def visit(node: ast.AST, inside: bool) -> None:
        if isinstance(node, ast.With):
            inside = inside or any(
                isinstance(item.context_expr, ast.Call) and dotted(item.context_expr.func) == "st.spinner"
                for item in node.items
            )
        if isinstance(node, ast.Call):
            found[node] = inside
        for child in ast.iter_child_nodes(node):
            visit(child, inside)

    visit(tree, False)
    return found


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: path.name)
def test_slow_calls_show_a_spinner(source):
    tree = ast.parse(source.read_text())
    bare = [
        f"{source.name}:{node.lineno} {dotted(node.func)}"
        for node, inside in spinner_parents(tree).items()
        if dotted(node.func) in SLOW_CALLS and not inside
    ]
    assert not bare, f"slow calls without a spinner: {bare}"


def test_the_device_panel_promises_what_a_cold_start_takes():
    assert "a few seconds" not in (ROOT / "app.py").read_text()  # it took 11-14 s cold
