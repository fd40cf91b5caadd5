"""AppTest drives the Classic architectures page: the table counts every architecture at each size (cached:
a rerun builds nothing), the code follows the chosen one, and a finished comparison shows its race."""

from __future__ import annotations

import json
import time

import pytest
from streamlit.testing.v1 import AppTest

from lab import jobs, runlog, zoo
from tests.pages import open_page

NAMES = ["lenet5", "alexnet", "vgg16", "googlenet", "resnet50", "xception", "se_resnet50", "mobilenet"]


@pytest.fixture(autouse=True)
def workspace(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_HOME", str(tmp_path / "workspace"))


def page(**query) -> AppTest:
    return open_page("architectures", 240, **query)


def test_the_table_counts_eight_architectures_and_a_rerun_builds_nothing(monkeypatch):
    app = page()
    assert not app.exception and not app.error
    table = app.dataframe[0].value
    assert list(table["architecture"]) == [zoo.LABELS[name] for name in NAMES]
    assert list(table["parameters"])[2] == 138_357_544 and list(table["depth"])[4] == 50
    monkeypatch.setattr(zoo.recipe, "build", lambda *args: pytest.fail("a rerun built a model"))
    start = time.perf_counter()
    app.number_input(key="arch.batch").set_value(8).run()
    assert not app.exception and time.perf_counter() - start < 30  # AppTest's own overhead: no threshold of ours
    assert "training activations, batch 8" in app.dataframe[0].value.columns


def test_the_scaled_sizes_and_the_code_follow_the_choice():
    app = page(**{"arch.size": "32", "arch.names": "mobilenet,lenet5", "arch.code": "mobilenet"})
    assert not app.exception and not app.error
    assert list(app.dataframe[0].value["input"]) == ["32x32x3", "32x32x1"]
    code = app.expander[-1].code[0].value
    assert "def mobilenet(" in code and "width=0.5" in code
    app.button_group(key="arch.names").set_value(["lenet5"]).run()
    assert not app.exception and app.selectbox(key="arch.code").value == "lenet5"
    app.button_group(key="arch.names").set_value([]).run()
    assert not app.exception and app.info  # "Pick at least one architecture."


def test_a_finished_comparison_shows_each_architectures_accuracy_and_curves(tmp_path):
    config = zoo.CompareConfig(names=("lenet5", "mobilenet"), epochs=1, batch_size=128)
    run_id = jobs.create("architectures", config.to_dict(), status="succeeded")
    rows = []
    result = zoo.run(config, jobs.run_dir(run_id), runlog.RunLog(rows.extend))
    jobs.log_metrics(run_id, rows)
    jobs.update(run_id, result=json.dumps(result))
    app = page(run=run_id, **{"arch.names": "lenet5,mobilenet"})
    assert not app.exception and not app.error
    results = next(frame.value for frame in app.dataframe if "test accuracy" in frame.value.columns)
    assert set(results["architecture"]) == {"LeNet-5", "MobileNet"}
    assert "arch.overlay" in {chart.key for chart in app.get("plotly_chart")}
