"""A trained Keras model as a TFLite (LiteRT) file, and that file run on a batch of images.

The phone runs the same file in LiteRT's Interpreter (Android, iOS); in Python it needs only
``pip install ai-edge-litert``, or TensorFlow's own ``tf.lite.Interpreter``.
"""

import contextlib
import io
import warnings

import numpy as np


def to_tflite(model):
    """The Keras model converted by TensorFlow's TFLite converter: the file's bytes."""
    import tensorflow as tf

    with contextlib.redirect_stdout(io.StringIO()):  # the converter prints the model's whole signature
        return tf.lite.TFLiteConverter.from_keras_model(model).convert()


def interpreter(model_path=None, model_content=None):
    """A TFLite interpreter of a file (or its bytes): LiteRT's where installed, else TensorFlow's."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # TensorFlow ships the same interpreter as tf.lite.Interpreter (deprecated, still there)
        import tensorflow as tf

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return tf.lite.Interpreter(model_path=model_path, model_content=model_content)
    return Interpreter(model_path=model_path, model_content=model_content)


def tflite_predict(runner, images):
    """One call for a whole batch: resize the input to it, set it, invoke, read the outputs."""
    images = np.asarray(images, np.float32)
    source, target = runner.get_input_details()[0], runner.get_output_details()[0]
    runner.resize_tensor_input(source["index"], list(images.shape))
    runner.allocate_tensors()
    runner.set_tensor(source["index"], images)
    runner.invoke()
    return np.array(runner.get_tensor(target["index"]))
