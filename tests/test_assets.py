"""``python -m lab assets`` offline fails fast, item by item, with instructions."""

from __future__ import annotations

import time

from lab import assets


def test_assets_offline_reports_each_item_and_fails(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))
    start = time.monotonic()
    assert assets.fetch_all(datasets=True, weights=False) == 1
    output = capsys.readouterr().out
    assert output.count("missing  dataset") == 4 and "python -m lab assets" in output
    assert time.monotonic() - start < 60
