"""Export beyond ``.keras``: a TFLite (LiteRT) file of a trained model, checked against Keras.

TensorFlow's own converter (``tf.lite.TFLiteConverter.from_keras_model``) writes the file; its
interpreter then runs the run's test images and the largest difference in any class probability
from the Keras model is recorded with the run, so "it works on a phone" is a number, not a hope.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from recipes import export as recipe

TFLITE_FILE = "model.tflite"
CHECK_IMAGES = 512  # test images run through both models (all of digits' 360)


def interpreter(model_content: bytes):
    """A TFLite interpreter (:func:`recipes.export.interpreter`), TensorFlow configured first."""
    import lab.device  # noqa: F401

    return recipe.interpreter(model_content=model_content)


def predict(model_content: bytes, images: np.ndarray) -> np.ndarray:
    """The TFLite model's outputs for a batch of float32 images."""
    return recipe.tflite_predict(interpreter(model_content), images)


def to_tflite(model, run_dir: Path, test_images: np.ndarray, probabilities: np.ndarray) -> dict:
    """Write ``run_dir/model.tflite`` and compare it with the Keras probabilities on the test set.

    Returns:
        ``{"tflite_bytes": size, "tflite_max_difference": max |p_tflite - p_keras|, "tflite_images": n}``
        (``"tflite_error"`` instead when the converter refuses the model: the run still succeeds).
    """
    import lab.device  # noqa: F401

    try:
        content = recipe.to_tflite(model)
    except Exception as error:  # the converter raises many kinds; the .keras file is still there
        return {"tflite_error": f"{type(error).__name__}: {str(error)[:300]}"}
    (Path(run_dir) / TFLITE_FILE).write_bytes(content)
    count = min(len(test_images), CHECK_IMAGES)
    if not count:
        return {"tflite_bytes": len(content), "tflite_max_difference": None, "tflite_images": 0}
    ours = predict(content, test_images[:count])
    difference = float(np.abs(ours - np.asarray(probabilities[:count], np.float32)).max())
    return {"tflite_bytes": len(content), "tflite_max_difference": difference, "tflite_images": count}
