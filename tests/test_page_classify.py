"""AppTest drives the pretrained classifier, including the hostile image corpus."""

from __future__ import annotations

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from tests.imagegen import encode, gradient, png_bomb
from tests.pages import open_page

PAGE = str(ROOT / "app_pages" / "classify.py")


def page(**query) -> AppTest:
    return open_page("classify", 180, **query)


def test_offline_the_weights_message_is_clear(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    app = page()
    assert not app.exception
    assert not app.error, [error.value for error in app.error]
    assert any("python -m lab assets" in warning.value for warning in app.warning)


def test_random_weights_compare_two_models_with_grad_cam():
    app = page(**{"cls.random": "true", "cls.cam": "true", "cls.k": "3"})
    app.multiselect(key="cls.models").set_value(["MobileNetV2", "EfficientNetB0"]).run()
    assert not app.exception and not app.error
    assert any("ms per image" in caption.value for caption in app.caption)
    figures = [frame for frame in app.dataframe if list(frame.value.columns[:3]) == ["series", "x", "y"]]
    assert len(app.dataframe) - len(figures) == 1  # the side-by-side table, beside each figure's data as a table
    assert figures and any("series" in frame.value.columns for frame in figures)


@pytest.mark.parametrize(
    ("name", "data", "fragment"),
    [
        ("empty.png", b"", "empty"),
        ("noise.jpg", bytes(range(256)) * 20, "Unsupported"),
        ("bomb.png", png_bomb(10_000, 8_000), "MP"),
        ("cut.png", encode(Image.fromarray(gradient(64, 64)), "PNG")[:200], "damaged or truncated"),
    ],
)
def test_bad_uploads_are_messages_and_the_good_images_still_classify(name, data, fragment):
    app = page(**{"cls.random": "true"})
    app.file_uploader(key="cls.uploads.0").set_value([(name, data, "image/png")]).run()
    assert not app.exception
    assert any(fragment in error.value and name in error.value for error in app.error)
    assert any("ms per image in a batch of 2" in caption.value for caption in app.caption)  # the samples


def test_model_upload_is_off_unless_the_server_allows_it():
    app = page(**{"cls.random": "true"})
    assert all(uploader.key != "cls.model_file" for uploader in app.file_uploader)


def test_a_comparison_link_reopens_with_every_model_and_photo():
    app = page(**{"cls.models": "MobileNetV2,EfficientNetB0", "cls.samples": "flower", "cls.random": "true"})
    assert not app.exception
    assert app.multiselect(key="cls.models").value == ["MobileNetV2", "EfficientNetB0"]
    assert app.multiselect(key="cls.samples").value == ["flower"]
    bogus = page(**{"cls.models": "MobileNetV2,<script>", "cls.random": "true"})
    assert not bogus.exception and bogus.multiselect(key="cls.models").value == ["MobileNetV2"]


def test_numbered_class_names_are_explained():
    app = page(**{"cls.random": "true", "cls.samples": "china"})
    assert not app.exception
    assert any("class names are numbers" in caption.value for caption in app.caption)


def test_an_uploader_past_its_caps_is_cleared_and_says_so():
    """30 photos of 20 MB pinned a gigabyte per tab: past 8 pictures (or 40 MB) the upload is dropped."""
    picture = encode(Image.fromarray(gradient(32, 32)), "PNG")
    app = page(**{"cls.random": "true", "cls.samples": "china"})
    assert any("up to 8 pictures, 40 MB in all" in uploader.label for uploader in app.file_uploader)
    app.file_uploader(key="cls.uploads.0").set_value([(f"p{i}.png", picture, "image/png") for i in range(9)]).run()
    assert not app.exception
    assert any("9 pictures" in error.value and "cleared" in error.value for error in app.error)
    assert [uploader.key for uploader in app.file_uploader] == ["cls.uploads.1"]  # a fresh, empty uploader
    assert any("batch of 1" in caption.value for caption in app.caption)  # the sample alone


def test_at_most_three_models_at_once_even_from_a_link():
    """/classify?cls.random=true&cls.models=<all five>&cls.cam=true took RSS 1.49 -> 2.22 GB."""
    five = "MobileNetV2,EfficientNetB0,EfficientNetV2B0,ResNet50,Xception"
    app = page(**{"cls.random": "true", "cls.models": five, "cls.samples": "china"})
    assert not app.exception
    assert app.multiselect(key="cls.models").value == ["MobileNetV2", "EfficientNetB0", "EfficientNetV2B0"]
