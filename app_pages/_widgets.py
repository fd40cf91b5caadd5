"""Widget helpers shared by every page: URL-bound widgets, error display, "Show the code".

They hold no math: that lives in ``lab``. The run panel shared by the training pages is
:mod:`app_pages._runs`; the picture input :mod:`app_pages._pictures`; who is asking
:mod:`app_pages._identity`; the layer-stack editor :mod:`app_pages._stack`.

URL state: every widget that matters has a namespaced key (``"pool.size"``); :func:`from_url`
seeds it from ``st.query_params`` once per session and :func:`to_url` mirrors it back, so a
shared link reproduces the view.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import streamlit as st

from lab import codegen, figures
from lab.errors import InputError

DISK_FULL = (
    "The server's disk is full, so nothing new can be saved. Your settings are kept: try again once the "
    "instructor has freed space (finished runs past the disk budget are removed, oldest first)."
)


def _parse(raw: str, default):
    if isinstance(default, list):  # a multiselect: comma-separated, in the options' own type
        return [item for item in raw.split(",") if item] if raw else []
    if isinstance(default, bool):
        return raw.lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    return raw


JS_SAFE = 2**53 - 1  # the largest integer a browser's number holds exactly


def from_url(
    key: str, default, options: Sequence | None = None, bounds: tuple | None = None, max_items: int | None = None
) -> None:
    """Seed ``st.session_state[key]`` from the URL (or ``default``) the first time it is seen.

    A hostile or stale URL value never breaks the widget: the wrong type, a value not among
    ``options``, NaN or a number past what a browser can hold falls back to ``default``; a number
    outside ``bounds`` is clamped to the nearest bound.
    """
    if key in st.session_state:
        # Written back before the widget exists: a widget left out of a run (the page stopped above
        # it while an upload was awaited) otherwise comes back at its default (0), not at its value.
        st.session_state[key] = st.session_state[key]
        return
    value = default
    raw = st.query_params.get(key)
    if raw is not None:
        try:
            value = _parse(raw, default)
        except (TypeError, ValueError, OverflowError):
            value = default
        if isinstance(default, list):
            known = {str(option): option for option in options or []}
            value = [known[item] for item in value if item in known] if options is not None else value
            value = value[:max_items] if max_items else value  # a multiselect's max_selections
        elif options is not None and value not in options:
            value = default
        if isinstance(value, (int, float)) and not isinstance(value, bool) and not abs(value) <= JS_SAFE:
            value = default  # NaN, infinities and 20-digit numbers
        if bounds is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = type(default)(min(max(value, bounds[0]), bounds[1]))
    st.session_state[key] = value


def bound(widget, label: str, key: str, default, options: Sequence | None = None, **kwargs):
    """Create ``widget`` seeded from and mirrored to the URL; return its value.

    ``options`` is passed positionally (selectbox, radio, segmented_control); ``min_value`` and
    ``max_value`` also bound what the URL may set.
    """
    limits = (kwargs["min_value"], kwargs["max_value"]) if {"min_value", "max_value"} <= kwargs.keys() else None
    from_url(key, default, options, limits, kwargs.get("max_selections"))
    value = widget(label, options, key=key, **kwargs) if options is not None else widget(label, key=key, **kwargs)
    to_url(key)
    return value


def to_url(*keys: str) -> None:
    """Mirror the current values of ``keys`` into the URL's query string."""
    for key in keys:
        value = st.session_state.get(key)
        if value is not None:
            if isinstance(value, list):
                text = ",".join(map(str, value))
            else:
                text = str(value).lower() if isinstance(value, bool) else str(value)
            if st.query_params.get(key) != text:
                st.query_params[key] = text


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Show a lab ``InputError`` as ``st.error`` and stop this run; widgets keep their values."""
    try:
        yield
    except InputError as error:
        st.error(str(error), icon=":material/error:")
        st.stop()
    except OSError as error:
        if error.errno != errno.ENOSPC:
            raise
        st.error(DISK_FULL, icon=":material/hard_drive:")
        st.stop()


def chart(container, figure, key: str, **kwargs) -> None:
    """A Plotly figure in ``container`` (``st`` or a column) and, beside it, the numbers behind it as a
    table (a popover): a text alternative for a screen reader, and the exact values for anyone."""
    figure.layout.modebar.orientation = "v"  # Plotly's toolbar down the right edge: never over a title
    container.plotly_chart(figure, key=key, **kwargs)
    table, rows = figures.data_table(figure)
    if table is None:
        return
    title = (figure.layout.title.text or "").strip()
    with container.popover(f"Data as table{': ' + title if title else ''}", icon=":material/table:"):
        if rows > len(table):
            st.caption(f"The first {len(table):,} of {rows:,} values.")
        st.dataframe(table, hide_index=True, width="stretch")


def show_code(code: codegen.Script | str) -> None:
    """The "Show the code" expander: a complete script for the current settings, with ``.py`` and
    ``.ipynb`` downloads (or, where a page has no script yet, its snippet). Downloads never rerun the
    page (``on_click="ignore"``): a rerun racing the browser's fetch of the file lost 1 download in 5
    under load, and cost a whole page run per click."""
    with st.expander("Show the code", icon=":material/code:"):
        if isinstance(code, str):
            st.code(code.strip(), language="python", wrap_lines=True)
            return
        st.code(code.python(), language="python", wrap_lines=True)  # a phone wraps it: no sideways scroll
        name = code.title.lower().replace(" ", "_").replace(":", "").replace("/", "_")
        left, right = st.columns(2)
        left.download_button(
            "Download .py", code.python(), f"{name}.py", "text/x-python", key=f"code.py.{name}", on_click="ignore"
        )
        notebook = code.notebook()
        right.download_button(
            "Download .ipynb",
            notebook,
            f"{name}.ipynb",
            "application/x-ipynb+json",
            key=f"code.nb.{name}",
            on_click="ignore",
        )
