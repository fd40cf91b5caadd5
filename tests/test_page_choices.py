"""Every page, every choice of every select-type widget, once (a list of more than 16 options: 16 of them,
spread over it): no page may crash on any of them.

A choice can reveal widgets (Region = "Custom box" shows the crop box); those are tried too, in the
state that revealed them. Two widgets with one key (the crash of ``/pooling?pool.crop=custom``)
fail here as Streamlit's own ``StreamlitDuplicateElementKey``.
"""

from __future__ import annotations

import pytest
from streamlit.proto.WidgetStates_pb2 import WidgetState

from app_pages import NAVIGATION
from tests.pages import open_page

PAGES = [path.split("/")[-1][:-3] for section in NAVIGATION.values() for path, *_ in section]
PAGES.remove("instructor")  # opens only with the token; tests/test_page_instructor.py covers it
KINDS = ("selectbox", "radio", "button_group", "toggle", "checkbox")


def choice_widgets(app) -> dict[str, object]:
    """{key: widget} of every select-type widget on the page now (keyed ones: the ones that matter)."""
    found = {}
    for kind in KINDS:
        for widget in getattr(app, kind):
            if widget.key and not widget.disabled:
                found[widget.key] = widget
    return found


def label_of(widget):
    """What the browser sends for the widget's current value: its option's label (or the bool)."""
    if widget.type in ("toggle", "checkbox"):
        return widget.value
    if widget.type == "button_group":
        return widget.formatted_values[0] if widget.formatted_values else None
    return widget.options[widget.index] if widget.index is not None else None


def choose(widget, label) -> None:
    """Set the widget as the browser does, by its option's label (format_func may rename the options)."""
    if widget.type in ("toggle", "checkbox"):
        widget.set_value(label)
        return

    class Chosen(type(widget)):
        @property
        def _widget_state(self) -> WidgetState:
            state = WidgetState()
            state.id = self.id
            if self.type == "button_group":
                state.string_array_value.data[:] = [label]
            else:
                state.string_value = label
            return state

    widget.__class__ = Chosen


MAX_OPTIONS = 16  # a long list (MobileNetV2's 155 layers) is tried at 16 options spread over it, ends included


def spread(options: list) -> list:
    if len(options) <= MAX_OPTIONS:
        return options
    step = (len(options) - 1) / (MAX_OPTIONS - 1)
    return [options[round(index * step)] for index in range(MAX_OPTIONS)]


def find(app, kind: str, key: str):
    return next((widget for widget in app.get(kind) if widget.key == key), None)


def try_every_choice(app, page: str, seen: set[str], depth: int = 0) -> int:
    """Set each choice widget to each of its other options in turn, recursing once into new widgets."""
    tried = 0
    for key, widget in choice_widgets(app).items():
        if key in seen:
            continue
        seen.add(key)
        original = label_of(widget)
        labels = [not original] if widget.type in ("toggle", "checkbox") else spread(list(widget.options))
        for label in [option for option in labels if option != original]:
            if (current := find(app, widget.type, key)) is None:
                break  # an earlier choice hid it
            choose(current, label)
            app.run()
            tried += 1
            assert_clean(app, f"{page}: {key} = {label!r}")
            if depth == 0:
                tried += try_every_choice(app, page, seen, depth + 1)
        restore = find(app, widget.type, key)
        if restore is not None and original is not None and label_of(restore) != original:
            choose(restore, original)
            app.run()
            assert_clean(app, f"{page}: {key} back to {original!r}")
    return tried


def assert_clean(app, where: str) -> None:
    assert not app.exception, f"{where}: {[e.message for e in app.exception]}"


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_every_choice_of_every_select_widget(page, tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_HOME", str(tmp_path / "workspace"))
    app = open_page(page, 240)
    assert_clean(app, f"{page}: defaults")
    tried = try_every_choice(app, page, set())
    assert tried > 0, f"{page} has no choice widget with a key"
