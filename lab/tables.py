"""Uploaded tables (CSV) in, downloadable tables out: caps, formula cells, nothing executed.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula when the file
is opened (CSV injection). Such a cell is refused on the way in unless it is a plain number
(``-0.5`` is data), and escaped with a leading quote on the way out.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np

from lab.errors import InputError, describe_value

MAX_CSV_BYTES = 5 * 1024 * 1024
MAX_CSV_ROWS = 200_000
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def read_csv(data: bytes, what: str, columns: Sequence[str]):
    """Parse an uploaded CSV (size- and row-capped) into a DataFrame of text with ``columns``.

    Raises:
        InputError: Too large, unreadable, or missing a column (naming what was found).
    """
    import pandas as pd

    if len(data) > MAX_CSV_BYTES:
        raise InputError(f"{what}: the CSV is larger than {MAX_CSV_BYTES // 2**20} MB.")
    try:
        frame = pd.read_csv(io.BytesIO(data), nrows=MAX_CSV_ROWS + 1, dtype=str, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise InputError(f"{what}: not a readable CSV ({type(error).__name__}).") from None
    if len(frame) > MAX_CSV_ROWS:
        raise InputError(f"{what}: more than {MAX_CSV_ROWS:,} rows.")
    frame.columns = [str(column).strip().lower() for column in frame.columns]
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise InputError(f"{what}: missing column(s) {', '.join(missing)}; found {', '.join(frame.columns)}.")
    return frame


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def refuse_formulas(frame, columns: Sequence[str], what: str) -> None:
    """Raise naming the first cell of ``columns`` that a spreadsheet would run as a formula."""
    for column in columns:
        text = frame[column].astype(str).str.strip()
        suspicious = text.str.startswith(FORMULA_PREFIXES).to_numpy()
        for row in np.flatnonzero(suspicious):
            if not _is_number(text.iloc[row]):
                raise InputError(
                    f"{what}: row {row + 1}, {column} {describe_value(text.iloc[row])} starts like a spreadsheet "
                    "formula (=, +, -, @); rename it."
                )


def escape_csv_cell(value: object) -> object:
    """Make a text cell safe to open in a spreadsheet (no formula injection)."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES) and not _is_number(value):
        return "'" + value
    return value
