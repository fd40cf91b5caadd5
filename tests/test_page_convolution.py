"""AppTest drives the convolution playground: presets, sizes, padding, uploads, kernel edits."""

from __future__ import annotations

import numpy as np
from PIL import Image
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from tests.imagegen import encode, gradient, png_bomb
from tests.pages import metric, open_page

PAGE = str(ROOT / "app_pages" / "convolution.py")
GRID = "conv.grid.vertical line.7.1.0.42"


def page(**query) -> AppTest:
    return open_page("convolution", 120, **query)


def test_defaults_are_homl_vertical_line_on_china():
    app = page()
    assert not app.exception and not app.error
    assert metric(app, "Input") == "427 x 640 x 3"
    assert metric(app, "Output") == "427 x 640 x 1"
    assert app.query_params["conv.preset"] == "vertical line"


def test_change_preset_size_padding_and_crop_from_the_url():
    app = page(**{"conv.crop": "homl", "conv.padding": "valid", "conv.preset": "box blur", "conv.size": "5"})
    assert not app.exception and not app.error
    assert metric(app, "Output") == "66 x 116 x 1"
    app.selectbox(key="conv.preset").set_value("sobel x").run()
    assert metric(app, "Kernel").startswith("3x3")
    app.toggle(key="conv.per_channel").set_value(True).run()
    assert metric(app, "Output") == "68 x 118 x 3"


def test_kernel_cell_edits_change_the_result_and_bad_cells_are_messages():
    app = AppTest.from_file(PAGE, default_timeout=120)
    app.query_params["conv.crop"] = "homl"
    app.session_state[GRID] = {"edited_rows": {0: {"0": 5.0}}, "added_rows": [], "deleted_rows": []}
    app.run()
    assert not app.exception and metric(app, "Kernel") == "7x7, sum 12"
    app.session_state[GRID] = {"edited_rows": {2: {"3": None}}, "added_rows": [], "deleted_rows": []}
    app.run()
    assert not app.exception and "row 2, column 3" in app.error[0].value


def test_upload_a_generated_image_and_a_hostile_one():
    app = page(**{"conv.image": "upload"})
    app.file_uploader(key="conv.upload").set_value(
        ("shapes.png", encode(Image.fromarray(gradient(48, 40)), "PNG"), "image/png")
    )
    app.run()
    assert not app.exception and metric(app, "Input") == "40 x 48 x 3"
    app.file_uploader(key="conv.upload").set_value(("bomb.png", png_bomb(10_000, 8_000), "image/png")).run()
    assert not app.exception and "MP" in app.error[0].value


def test_bad_settings_give_messages_not_tracebacks():
    app = page(**{"conv.image": "upload"})
    tiny = encode(Image.fromarray(np.full((1, 1, 3), 200, np.uint8)), "PNG")
    app.file_uploader(key="conv.upload").set_value(("dot.png", tiny, "image/png")).run()
    app.radio(key="conv.padding").set_value("valid").run()
    assert not app.exception and "must fit" in app.error[0].value
    app.radio(key="conv.padding").set_value("same").run()
    assert not app.exception and metric(app, "Output") == "1 x 1 x 1"
    strip = encode(Image.fromarray(np.zeros((20, 20000, 3), np.uint8)), "PNG")
    app.file_uploader(key="conv.upload").set_value(("strip.png", strip, "image/png")).run()
    assert not app.exception and "longest side" in app.error[0].value


def test_homl_conv2d_demo_and_transposed_section():
    app = page(**{"conv.crop": "homl"})
    app.toggle(key="conv.demo").set_value(True).run()
    assert not app.exception
    assert "True" in app.success[0].value
    assert any("np.allclose" in md.value and "True" in md.value for md in app.markdown)


def test_a_link_reproduces_the_inspected_pixel_and_the_edited_kernel():
    app = page(**{"conv.row": "10", "conv.col": "20", "conv.kernel": "0,1,0;1,-4,1;0,1,0"})
    assert not app.exception and not app.error
    assert app.number_input(key="conv.row").value == 10 and app.number_input(key="conv.col").value == 20
    kernel = next(metric.value for metric in app.metric if metric.label == "Kernel")
    assert kernel.startswith("3x3, sum 0")  # the edited grid, not the 7x7 vertical line
    app.selectbox(key="conv.preset").set_value("sobel x").run()  # a new preset starts from its own grid
    assert "conv.kernel" not in app.query_params


def test_a_bad_kernel_in_the_url_is_a_message():
    app = page(**{"conv.kernel": "1,2;3"})
    assert not app.exception and "rectangle" in app.error[0].value


def test_show_the_code_is_a_complete_script_with_downloads():
    app = page(**{"conv.preset": "sobel y", "conv.row": "12"})
    script = next(code.value for code in app.code if "tf.nn.conv2d" in code.value)
    assert "kernel = [[-1, -2, -1], [0, 0, 0], [1, 2, 1]]" in script and "import lab" not in script
    assert 'source = "china"' in script and "load_sample_image(SAMPLE_PHOTOS[source])" in script
    assert "pixel = (12, " in script
    labels = [button.proto.label for button in app.get("download_button")]
    assert {"Download .py", "Download .ipynb"} <= set(labels)
