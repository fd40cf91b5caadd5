"""lab.safety: hostile .keras files built in the test, each refused before Keras loads anything."""

from __future__ import annotations

import json
import zipfile

import h5py
import keras
import numpy as np
import pytest

from lab import safety


@pytest.fixture(autouse=True)
def load_model_must_not_run(monkeypatch):
    calls = []
    original = keras.saving.load_model
    monkeypatch.setattr(keras.saving, "load_model", lambda *a, **k: calls.append(a) or original(*a, **k))
    yield calls


def good_model(path):
    model = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3), keras.layers.Flatten(), keras.layers.Dense(2)]
    )
    model.save(path)
    return path


def rewrite(source, target, *, config=None, extra=None, rename=None, weights=None):
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            data = old.read(info.filename)
            if info.filename == "config.json" and config is not None:
                data = json.dumps(config).encode()
            if info.filename == "model.weights.h5" and weights is not None:
                data = weights
            new.writestr((rename or {}).get(info.filename, info.filename), data)
        for name, data in (extra or {}).items():
            new.writestr(name, data)
    return target


def config_of(path):
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("config.json"))


def test_a_clean_model_passes_and_loads(tmp_path, load_model_must_not_run):
    model = safety.load_checked_model(good_model(tmp_path / "ok.keras"))
    assert model.output_shape == (None, 2) and load_model_must_not_run


def refused(path, fragment, calls):
    with pytest.raises(safety.UnsafeModel, match=fragment):
        safety.load_checked_model(path)
    assert calls == []  # refused before load_model ran


def test_lambda_at_top_level(tmp_path, load_model_must_not_run):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Lambda(lambda x: x * 2)])
    model.save(tmp_path / "lambda.keras")
    refused(tmp_path / "lambda.keras", "Lambda", load_model_must_not_run)


def test_lambda_nested_inside_a_sub_model(tmp_path, load_model_must_not_run):
    inner = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(3), keras.layers.Lambda(lambda x: x + 1)], name="inner"
    )
    outer = keras.Sequential([keras.Input((4,)), inner, keras.layers.Dense(2)])
    outer.save(tmp_path / "nested.keras")
    refused(tmp_path / "nested.keras", "Lambda", load_model_must_not_run)


def test_legacy_h5_and_hdf5_bytes_named_keras(tmp_path, load_model_must_not_run):
    with h5py.File(tmp_path / "legacy.keras", "w") as handle:
        handle["x"] = np.zeros(3)
    refused(tmp_path / "legacy.keras", "legacy HDF5", load_model_must_not_run)
    (tmp_path / "text.keras").write_text("not a model")
    refused(tmp_path / "text.keras", "not a Keras v3", load_model_must_not_run)


def test_extra_and_path_traversal_members(tmp_path, load_model_must_not_run):
    good = good_model(tmp_path / "ok.keras")
    refused(
        rewrite(good, tmp_path / "extra.keras", extra={"payload.py": b"import os"}), "exactly", load_model_must_not_run
    )
    traversal = rewrite(good, tmp_path / "slip.keras", rename={"config.json": "../config.json"})
    refused(traversal, "exactly", load_model_must_not_run)


def test_oversized_member_ratio_bomb(tmp_path, load_model_must_not_run):
    good = good_model(tmp_path / "ok.keras")
    bomb = rewrite(good, tmp_path / "bomb.keras", weights=b"\0" * (20 * 1024 * 1024))
    refused(bomb, "expands", load_model_must_not_run)


def test_config_naming_an_arbitrary_module_function(tmp_path, load_model_must_not_run):
    good = good_model(tmp_path / "ok.keras")
    config = config_of(good)
    config["config"]["layers"][1] = {
        "module": "os",
        "class_name": "system",
        "config": {"command": "echo pwned"},
        "registered_name": None,
    }
    refused(rewrite(good, tmp_path / "os.keras", config=config), "module 'os'", load_model_must_not_run)
    config = config_of(good)
    config["config"]["layers"][1]["registered_name"] = "evil>Conv2D"
    refused(rewrite(good, tmp_path / "registered.keras", config=config), "registered", load_model_must_not_run)
    config = config_of(good)
    config["config"]["layers"][1]["config"]["name"] = "/etc/passwd"
    refused(rewrite(good, tmp_path / "path.keras", config=config), "file path", load_model_must_not_run)


def test_weights_with_an_hdf5_external_link(tmp_path, load_model_must_not_run):
    good = good_model(tmp_path / "ok.keras")
    with zipfile.ZipFile(good) as archive:
        (tmp_path / "w.h5").write_bytes(archive.read("model.weights.h5"))
    with h5py.File(tmp_path / "w.h5", "a") as handle:
        handle["leak"] = h5py.ExternalLink("/etc/passwd", "/")
    linked = rewrite(good, tmp_path / "linked.keras", weights=(tmp_path / "w.h5").read_bytes())
    refused(linked, "external links", load_model_must_not_run)


def test_the_labs_own_layers_pass_and_forged_ones_do_not(tmp_path, load_model_must_not_run):
    """An AlexNet trained here (its LocalResponseNormalization is the lab's registered layer) may come back as
    an upload; a registered name or module that only looks like the lab's is refused before loading."""
    import models

    models.build("alexnet", (32, 32, 3), 3, width=0.125).save(tmp_path / "alexnet.keras")
    assert safety.load_checked_model(tmp_path / "alexnet.keras").output_shape == (None, 3)
    load_model_must_not_run.clear()
    config = config_of(tmp_path / "alexnet.keras")
    index = next(i for i, layer in enumerate(config["config"]["layers"]) if "Local" in layer["class_name"])
    for forged, fragment in (({"module": "os"}, "module 'os'"), ({"registered_name": "cnnlab>Evil"}, "registered")):
        changed = config_of(tmp_path / "alexnet.keras")
        changed["config"]["layers"][index].update(forged)
        path = rewrite(tmp_path / "alexnet.keras", tmp_path / "forged.keras", config=changed)
        refused(path, fragment, load_model_must_not_run)
