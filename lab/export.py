"""Export beyond ``.keras``: a TFLite (LiteRT) file of a trained model, checked against Keras.

TensorFlow's own converter (``tf.lite.TFLiteConverter.from_keras_model``) writes the file; its
interpreter then runs the run's test images and the largest difference in any class probability
from the Keras model is recorded with the run, so "it works on a phone" is a number, not a hope.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path

import numpy as np

TFLITE_FILE = "model.tflite"
CHECK_IMAGES = 512  # test images run through both models (all of digits' 360)


def interpreter(model_content: bytes):
    """A TFLite interpreter: LiteRT's where installed, else TensorFlow's (deprecated, still there)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        from lab.device import tf

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return tf.lite.Interpreter(model_content=model_content)
    return Interpreter(model_content=model_content)


def predict(model_content: bytes, images: np.ndarray) -> np.ndarray:
    """The TFLite model's outputs for a batch of float32 images."""
    runner = interpreter(model_content)
    images = np.asarray(images, np.float32)
    source, target = runner.get_input_details()[0], runner.get_output_details()[0]
    runner.resize_tensor_input(source["index"], list(images.shape))
    runner.allocate_tensors()
    runner.set_tensor(source["index"], images)
    runner.invoke()
    return np.array(runner.get_tensor(target["index"]))


def to_tflite(model, run_dir: Path, test_images: np.ndarray, probabilities: np.ndarray) -> dict:
    """Write ``run_dir/model.tflite`` and compare it with the Keras probabilities on the test set.

    Returns:
        ``{"tflite_bytes": size, "tflite_max_difference": max |p_tflite - p_keras|, "tflite_images": n}``
        (``"tflite_error"`` instead when the converter refuses the model: the run still succeeds).
    """
    from lab.device import tf

    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the converter prints its whole signature
            content = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    except Exception as error:  # the converter raises many kinds; the .keras file is still there
        return {"tflite_error": f"{type(error).__name__}: {str(error)[:300]}"}
    (Path(run_dir) / TFLITE_FILE).write_bytes(content)
    count = min(len(test_images), CHECK_IMAGES)
    if not count:
        return {"tflite_bytes": len(content), "tflite_max_difference": None, "tflite_images": 0}
    ours = predict(content, test_images[:count])
    difference = float(np.abs(ours - np.asarray(probabilities[:count], np.float32)).max())
    return {"tflite_bytes": len(content), "tflite_max_difference": difference, "tflite_images": count}
