"""AppTest drives the padding calculator and the planner like a learner would."""

from __future__ import annotations

import subprocess
import sys

from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from tests.pages import open_page

PAGE = str(ROOT / "app_pages" / "padding.py")


def page(**query) -> AppTest:
    return open_page("padding", 120, **query)


def metrics(app: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in app.metric}


def test_defaults_show_tf_same_numbers_and_mirror_the_url():
    app = page()
    assert not app.exception
    values = metrics(app)
    assert values["Output"] == "4 x 4"
    assert values["Pad left / right"] == "0 / 1"  # the odd cell goes right
    assert app.query_params["pad.padding"] == "same"


def test_url_reproduces_the_view_and_hostile_urls_fall_back():
    app = page(**{"pad.padding": "valid", "pad.h": "28", "pad.kh": "5", "pad.sh": "1"})
    assert metrics(app)["Output"].startswith("24 x")
    app = page(**{"pad.padding": "diagonal", "pad.h": "1e99", "pad.op": "<script>"})
    assert not app.exception and metrics(app)["Output"] == "4 x 4"


def test_bad_input_is_a_message_not_a_traceback():
    app = page()
    app.radio(key="pad.padding").set_value("valid")
    app.number_input(key="pad.kh").set_value(9).run()
    assert not app.exception
    assert "must fit in the input" in app.error[0].value
    app.number_input(key="pad.kh").set_value(3)
    app.number_input(key="pad.sh").set_value(0).run()
    assert "stride must be at least 1" in app.error[0].value
    assert app.number_input(key="pad.h").value == 7  # nothing else was lost


def test_verify_with_tensorflow_agrees():
    app = page()
    app.button[0].click().run()
    assert not app.exception
    assert "TensorFlow (4, 4)" in app.success[0].value


def test_predict_then_reveal():
    app = page(**{"pad.predict": "true"})
    assert "Output" not in metrics(app)
    app.number_input(key="pad.guess_h").set_value(4)
    app.number_input(key="pad.guess_w").set_value(4)
    app.button[0].click().run()
    assert metrics(app)["Output"] == "4 x 4"
    assert app.success[0].value == "Right! You said 4 x 4; TensorFlow says 4 x 4."  # the guess beside the answer


def test_planner_presets_verify_with_keras_and_bad_rows():
    app = page()
    assert metrics(app)["Parameters"] == "1,413,834"
    app.selectbox(key="plan.preset").set_value("HappyModel (Ng)").run()
    assert metrics(app)["Parameters"] == "37,633"
    verify = next(button for button in app.button if button.label == "Verify planner with Keras")
    verify.click().run()
    assert not app.exception and "Keras agrees" in app.success[0].value
    app.number_input(key="plan.height.HappyModel (Ng)").set_value(-3).run()
    assert "Input: height must be at least 1" in app.error[0].value


def test_page_does_not_import_tensorflow_until_asked():
    code = (
        "import sys\nfrom streamlit.testing.v1 import AppTest\n"
        f"app = AppTest.from_file({PAGE!r}, default_timeout=60).run()\n"
        "assert not app.exception\nprint('tensorflow' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip().endswith("False")


def test_a_number_no_browser_can_hold_is_ignored():
    app = page(**{"pad.h": "99999999999999999999", "pad.sh": "123456789012345678901234567890"})
    assert not app.exception
    assert app.number_input(key="pad.h").value == 7 and app.number_input(key="pad.sh").value == 2


def test_a_huge_but_representable_size_is_a_message():
    app = page(**{"pad.h": str(2**40)})
    assert not app.exception and "at most 1,048,576" in app.error[0].value
