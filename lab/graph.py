"""Any model the lab holds as one functional graph, so that its intermediate outputs can be asked for.

Models come in three shapes here: functional models (the registry's CNNs, ImageNet models), a
``Sequential`` stack (the planner's networks), which after a round trip through ``.keras`` has
"never been called" and so has no symbolic input, and functional models with a model nested as one
layer (a fine-tuned base), whose own ``output`` belongs to the inner graph, not the outer one.
:func:`functional` and :func:`output_of` give every one of them the same handle: the model's top-level
layers wired from one ``keras.Input``, weights shared, and each layer's tensor in that graph.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence

from lab.device import keras

_WIRED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # a stack -> its functional twin, made once
_LOCK = threading.Lock()


def functional(model, input_shape: Sequence[int]):
    """``model`` as a functional model over its own layers (the same weights, nothing copied).

    Made once per model: each wiring adds a node to every layer, so a shared model wired on every
    request would grow for ever.

    Args:
        model: Any Keras model the lab built or loaded.
        input_shape: (H, W, C) of one input, for a stack that has no symbolic input yet.
    """
    if not isinstance(model, keras.Sequential):
        return model
    with _LOCK:
        if model not in _WIRED:
            inputs = keras.Input(shape=tuple(input_shape))
            tensor = inputs
            for layer in model.layers:
                tensor = layer(tensor)
            _WIRED[model] = keras.Model(inputs, tensor, name=model.name)
        return _WIRED[model]


def output_of(model, layer):
    """The symbolic output of top-level ``layer`` *in ``model``'s graph* (see :func:`functional`).

    A nested model's ``layer.output`` is its inner graph's; its call inside the outer graph is its
    latest inbound node (Keras adds one per call, and :func:`functional` calls each layer once more).
    """
    node = layer._inbound_nodes[-1]
    outputs = node.output_tensors
    return outputs[0] if len(outputs) == 1 else outputs


def spatial_layers(model) -> list:
    """The top-level layers whose output is a feature map (batch, H, W, C), input first excluded."""
    found = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer) or not layer._inbound_nodes:
            continue
        output = output_of(model, layer)
        if not isinstance(output, (list, tuple)) and len(output.shape) == 4:
            found.append(layer)
    return found
