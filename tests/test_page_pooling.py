"""AppTest drives the pooling viewer."""

from __future__ import annotations

from PIL import Image
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from tests.imagegen import encode, gradient
from tests.pages import metric, open_page

PAGE = str(ROOT / "app_pages" / "pooling.py")


def page(**query) -> AppTest:
    return open_page("pooling", 120, **query)


def test_defaults_pool_the_homl_crop():
    app = page()
    assert not app.exception and not app.error
    assert (metric(app, "Input"), metric(app, "Output")) == ("70 x 120 x 3", "35 x 60 x 3")
    assert app.query_params["pool.size"] == "2"


def test_average_same_padding_stride_and_depth_groups():
    app = page(**{"pool.kind": "avg", "pool.size": "3", "pool.stride": "2", "pool.padding": "same"})
    assert not app.exception and not app.error
    assert metric(app, "Output") == "35 x 60 x 3"
    app.radio(key="pool.depth").set_value(2).run()
    assert not app.exception


def test_bad_input_pool_larger_than_image_under_valid():
    app = page(**{"pool.image": "upload"})
    app.file_uploader(key="pool.upload").set_value(
        ("small.png", encode(Image.fromarray(gradient(6, 5)), "PNG"), "image/png")
    )
    app.run()
    assert "does not fit inside the 5x6 image" in app.error[0].value  # HOML's crop is the default
    app.radio(key="pool.crop").set_value("full").run()
    assert not app.error and "too small" in app.info[0].value  # the shift demo says why it is skipped
    app.slider(key="pool.size").set_value(8).run()
    assert not app.exception
    assert "larger than the 5x6 image" in app.error[0].value


def test_grayscale_full_image():
    app = page(**{"pool.gray": "true", "pool.crop": "full"})
    assert not app.exception and not app.error
    assert metric(app, "Input") == "427 x 640 x 1"


def test_a_link_reproduces_the_depth_group_and_the_shift():
    app = page(**{"pool.depth": "3", "pool.shift": "2"})
    assert not app.exception
    assert app.radio(key="pool.depth").value == 3 and app.slider(key="pool.shift").value == 2
