"""Checks an uploaded ``.keras`` file before Keras ever deserialises it.

Model files are programs: Keras' ``safe_mode`` has been bypassed repeatedly (CVE-2024-3660,
CVE-2025-1550 and later), so safe mode is the last line, not the first. We accept only a Keras v3
zip with exactly ``config.json``, ``metadata.json`` and ``model.weights.h5``, within size and
compression caps; its config may name only built-in Keras layers and helpers from an allowlist
(no ``Lambda`` at any depth, no custom or registered objects but the lab's own layers from ``models/``,
no file paths), and its weights
file may hold no HDF5 external links. Only then ``load_model(..., safe_mode=True, compile=False)``.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

from lab.errors import InputError

MEMBERS = {"config.json", "metadata.json", "model.weights.h5"}
MAX_FILE_BYTES = 300 * 1024 * 1024
MAX_CONFIG_BYTES = 5 * 1024 * 1024
MAX_UNCOMPRESSED = 600 * 1024 * 1024
MAX_RATIO = 100  # uncompressed / compressed, per member over 1 MB: images and weights barely compress
ALLOWED_MODULES = (
    "keras",
    "keras.layers",
    "keras.src",
    "keras.models",
    "keras.initializers",
    "keras.regularizers",
    "keras.constraints",
    "keras.optimizers",
    "keras.losses",
    "keras.metrics",
    "keras.activations",
)
# Built-in layers and helpers a model config may name: models and structure, layers, initializers,
# regularizers and constraints, and what compile_config may name (not deserialised with
# compile=False, but checked all the same). ``__keras_tensor__`` is how a functional model's config names the
# tensor a layer takes (its producing layer's name and node: data, no code).
_ALLOWED_NAMES = """
Functional Sequential Model InputLayer DTypePolicy FloatDTypePolicy Conv1D Conv2D Conv3D
Conv2DTranspose SeparableConv2D DepthwiseConv2D Dense Flatten Dropout SpatialDropout2D GaussianNoise
BatchNormalization LayerNormalization GroupNormalization Activation ReLU LeakyReLU ELU PReLU Softmax
MaxPooling2D AveragePooling2D GlobalAveragePooling2D GlobalMaxPooling2D ZeroPadding2D Cropping2D
UpSampling2D Reshape Permute Add Subtract Multiply Average Maximum Minimum Concatenate Rescaling
Normalization Resizing CenterCrop RandomFlip RandomRotation RandomZoom RandomTranslation
RandomContrast RandomBrightness RandomCrop GlorotUniform GlorotNormal HeNormal HeUniform LecunNormal
LecunUniform Zeros Ones Constant RandomNormal RandomUniform TruncatedNormal VarianceScaling
Orthogonal Identity L1 L2 L1L2 MaxNorm NonNeg UnitNorm MinMaxNorm Adam AdamW Nadam SGD RMSprop
Adagrad SparseCategoricalCrossentropy CategoricalCrossentropy BinaryCrossentropy MeanSquaredError
SparseCategoricalAccuracy CategoricalAccuracy Accuracy BinaryAccuracy Mean MeanMetricWrapper
ExponentialDecay CosineDecay __keras_tensor__
"""
ALLOWED_CLASSES = frozenset(_ALLOWED_NAMES.split())
# The lab's own registered layers (models/): built of Keras ops, their configs plain numbers. A model trained
# here (an AlexNet with its LRN, HOML's ResNet-34) may come back as an upload: {registered name: module}.
OWN_LAYERS = {
    "cnnlab>LocalResponseNormalization": "models.classic",
    "cnnlab>ResidualUnit": "models.resnets",
}


class UnsafeModel(InputError):
    """An uploaded model file failed a safety check; the message says which."""


def check_zip_sizes(infos, *, max_members: int, max_total_bytes: int, max_member_bytes: int) -> None:
    """The one zip policy (model files and class-folder zips): count, sizes, ratio, encryption.

    Checks the declared sizes before anything is read; readers still count the bytes they read,
    since headers can lie.

    Raises:
        InputError: Naming the member and the limit.
    """
    if len(infos) > max_members:
        raise InputError(f"The zip has {len(infos):,} entries; the limit is {max_members:,}.")
    total = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise InputError(f"Refused: {info.filename!r} is encrypted.")
        total += info.file_size
        if info.file_size > max_member_bytes:
            raise InputError(
                f"Refused: {info.filename!r} is {info.file_size / 2**20:.0f} MB; the limit is "
                f"{max_member_bytes / 2**20:.0f} MB per file."
            )
        if info.compress_size and info.file_size > 1_000_000 and info.file_size / info.compress_size > MAX_RATIO:
            raise InputError(
                f"Refused: {info.filename!r} expands {info.file_size / info.compress_size:,.0f}x (a zip bomb?)."
            )
    if total > max_total_bytes:
        raise InputError(f"The zip expands to {total / 2**20:,.0f} MB; the limit is {max_total_bytes // 2**20} MB.")


def _walk(node, path: str = "config") -> None:
    if isinstance(node, dict):
        class_name = node.get("class_name")
        if class_name is not None:
            if class_name in ("Lambda", "__lambda__", "function", "TFOpLambda"):
                raise UnsafeModel(f"Refused: a {class_name} (arbitrary code) at {path}.")
            registered, module = node.get("registered_name"), node.get("module")
            if registered in OWN_LAYERS:
                if (module, registered) != (OWN_LAYERS[registered], f"cnnlab>{class_name}"):
                    raise UnsafeModel(
                        f"Refused: {class_name} from module {module!r} at {path}: the lab's own {registered!r} "
                        f"comes from {OWN_LAYERS[registered]}."
                    )
            else:
                _check_builtin(class_name, registered, module, path)
        for key, value in node.items():
            if key in ("function", "function_type", "fn", "module_name") and value not in (None, ""):
                raise UnsafeModel(f"Refused: a function reference {key!r} at {path}.")
            _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            _walk(value, f"{path}[{index}]")
    elif isinstance(node, str) and ("/" in node or "\\" in node or node.endswith((".h5", ".keras", ".py", ".so"))):
        raise UnsafeModel(f"Refused: a string that looks like a file path ({node[:40]!r}) at {path}.")


def _check_weights(data: bytes) -> None:
    import h5py

    try:
        with h5py.File(io.BytesIO(data), "r") as handle:
            links: list[str] = []

            def visit(name, link):
                if isinstance(link, h5py.ExternalLink):
                    links.append(name)

            handle.visititems_links(visit)  # h5py >= 3.11: every link, external ones included
    except UnsafeModel:
        raise
    except Exception as error:
        raise UnsafeModel(f"Refused: model.weights.h5 is not a readable HDF5 file ({type(error).__name__}).") from None
    if links:
        raise UnsafeModel(f"Refused: the weights file has HDF5 external links ({', '.join(links[:3])}).")


def _check_builtin(class_name: str, registered, module, path: str) -> None:
    """A config node naming a class must name a built-in Keras one on the allowlist."""
    if registered not in (None, class_name) or (isinstance(registered, str) and ">" in registered):
        raise UnsafeModel(f"Refused: a custom registered object {registered!r} at {path}.")
    if module is not None and (not isinstance(module, str) or not module.startswith(ALLOWED_MODULES)):
        raise UnsafeModel(f"Refused: {class_name} from module {module!r} at {path}; only built-in Keras is allowed.")
    if class_name not in ALLOWED_CLASSES:
        raise UnsafeModel(f"Refused: {class_name!r} at {path} is not a built-in layer on the allowlist.")


def check_keras_file(path: str | os.PathLike) -> dict:
    """Return the parsed config if ``path`` passes every check; raise :class:`UnsafeModel` otherwise."""
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise UnsafeModel(f"Refused: the file is {size / 2**20:.0f} MB; the limit is {MAX_FILE_BYTES // 2**20} MB.")
    with open(path, "rb") as handle:
        head = handle.read(8)
    if head.startswith(b"\x89HDF"):
        raise UnsafeModel("Refused: this is a legacy HDF5 (.h5) model; only Keras v3 .keras files are accepted.")
    if not zipfile.is_zipfile(path):
        raise UnsafeModel("Refused: not a Keras v3 .keras file (which is a zip archive).")
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        names = [info.filename for info in infos]
        if sorted(names) != sorted(MEMBERS):
            extra = sorted(set(names) - MEMBERS)
            raise UnsafeModel(
                f"Refused: the archive must hold exactly {sorted(MEMBERS)}; found extra or missing {extra or sorted(MEMBERS - set(names))}."
            )
        try:
            check_zip_sizes(
                infos, max_members=len(MEMBERS), max_total_bytes=MAX_UNCOMPRESSED, max_member_bytes=MAX_UNCOMPRESSED
            )
        except InputError as error:
            raise UnsafeModel(str(error)) from None
        if archive.getinfo("config.json").file_size > MAX_CONFIG_BYTES:
            raise UnsafeModel("Refused: config.json is larger than 5 MB.")
        try:
            config = json.loads(archive.read("config.json"))
            json.loads(archive.read("metadata.json"))
        except (ValueError, UnicodeDecodeError):
            raise UnsafeModel("Refused: config.json or metadata.json is not valid JSON.") from None
        _walk(config)
        _check_weights(archive.read("model.weights.h5"))
    return config


def load_checked_model(path: str | os.PathLike):
    """:func:`check_keras_file`, then Keras' own safe mode without compiling."""
    check_keras_file(path)
    import models  # noqa: F401  registers the lab's own layers (OWN_LAYERS) for loading
    from lab.device import keras

    try:
        return keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as error:
        raise UnsafeModel(f"Keras could not load this model in safe mode: {type(error).__name__}: {error}") from None
