"""The Classic architectures page's views: the counted table (cached: no model is built on a rerun) and a
finished comparison run (no math: :mod:`lab.zoo`)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_pages._widgets import chart
from lab import figures, jobs, zoo


@st.cache_data(max_entries=64, show_spinner="Counting the architecture (once per server)…")
def _counted(name: str, size: str) -> dict:
    return zoo.counted(zoo.view_config(name, size, 1))


def figures_of(names: tuple[str, ...], size: str) -> list[dict]:
    """Each architecture's counts at ``size`` (built once per server process, then read from the cache)."""
    return [_counted(name, size) for name in names]


def count_table(names: tuple[str, ...], size: str, batch_size: int) -> pd.DataFrame:
    """The side-by-side table: its activation memory at ``batch_size`` (no recount when it changes)."""
    counts = figures_of(names, size)
    return pd.DataFrame(
        [zoo.table_row(zoo.view_config(name, size, batch_size), c) for name, c in zip(names, counts, strict=True)]
    )


def comparison_results(run: jobs.Run) -> None:
    """A finished comparison: each architecture's test accuracy, and their validation curves over each other."""
    st.dataframe(pd.DataFrame(zoo.results_table(run.result or {})), hide_index=True, width="stretch")
    names = zoo.CompareConfig.from_dict(run.config).names
    overlay = zoo.curves(jobs.metrics(run.id), names)
    chart(st, figures.overlay_figure(overlay, "validation accuracy per architecture"), key="arch.overlay")
