"""Grad-CAM, and two checks of whether a saliency map can be trusted (Adebayo et al., 2018, "Sanity
checks for saliency maps"; the deletion metric of Petsiuk et al., 2018, RISE):

* **model randomisation**: re-initialise the model's weights from the top layer down, one more layer
  at a time, and compare each map with the trained model's by rank correlation. A map that hardly
  changes when the weights that made the prediction are gone was not explaining the model.
* **deletion**: remove the most salient pixels first, 10% at a time, and watch the class probability
  fall; against removing pixels in random order. The area between the curves is how much faster the
  map finds what the model uses.
"""

import keras
import numpy as np
import tensorflow as tf

from recipes.inspect import wiring

CASCADE_STEPS = 4  # layers with weights re-initialised, top first, one more at each step
DELETION_STEPS = 10  # 10%, 20%, ... of the pixels removed
RANDOM_ORDERS = 3  # random deletion orders averaged


def last_feature_maps(model, tensors):
    """The name of the last layer whose output is a feature map (H x W x C): what Grad-CAM weighs."""
    return [name for name, (_, output) in tensors.items() if len(output.shape) == 4][-1]


def grad_cam(model, image, class_id=None):
    """Grad-CAM (H, W) in [0, 1] at the image's size: the last feature maps weighted by the mean
    gradient of the class score over each map, summed, ReLU'd."""
    graph, tensors = wiring(model, image.shape)
    probe = keras.Model(graph.input, [tensors[last_feature_maps(graph, tensors)][1], graph.output])
    with tf.GradientTape() as tape:
        maps, predictions = probe(image[np.newaxis], training=False)
        index = int(tf.argmax(predictions[0])) if class_id is None else int(class_id)
        score = predictions[:, index]
    weights = tf.reduce_mean(tape.gradient(score, maps), axis=(0, 1, 2))
    cam = tf.nn.relu(tf.reduce_sum(maps[0] * weights, axis=-1))
    peak = float(tf.reduce_max(cam))
    cam = cam / peak if peak > 0 else cam
    return np.asarray(tf.image.resize(cam[..., tf.newaxis], image.shape[:2])[..., 0])


def randomised(model, image_shape, top, seed=0):
    """A copy of ``model`` with the weights of its ``top`` last layers that have weights drawn afresh
    from their initialisers (the lower layers keep the trained weights)."""
    copy = keras.models.clone_model(model)
    copy.build((None, *image_shape))
    copy.set_weights(model.get_weights())
    weighted = [layer for layer in copy.layers if layer.weights][::-1][:top]
    keras.utils.set_random_seed(seed)
    for layer in weighted:
        for variable in layer.weights:
            name = variable.path.split("/")[-1]
            initializer = getattr(layer, f"{name}_initializer", None) or _statistic_initializer(name)
            variable.assign(keras.initializers.get(initializer)(variable.shape))
    return copy


def _statistic_initializer(name):
    return "ones" if name in ("moving_variance", "gamma") else "zeros"


def ranks(values):
    """Ranks 1..n of ``values`` (flattened), ties sharing their average rank (as Spearman's rho needs)."""
    values = np.asarray(values, np.float64).reshape(-1)
    order = np.argsort(values, kind="stable")
    ranked = np.empty(values.size)
    ranked[order] = np.arange(1, values.size + 1)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranked)
    return (sums / counts)[inverse]


def rank_correlation(a, b):
    """Spearman's rho of two maps (0 when either is constant: no ranking to compare)."""
    ra, rb = ranks(a), ranks(b)
    if ra.std() == 0 or rb.std() == 0:
        return 0.0
    return float(np.corrcoef(ra, rb)[0, 1])


def cascade(model, image, class_id, steps=CASCADE_STEPS):
    """The rank correlation of the trained model's map with each randomised copy's: top 1, 2, ... layers."""
    trained, found = grad_cam(model, image, class_id), []
    for top in range(1, steps + 1):
        copy = randomised(model, image.shape, top)
        found.append((top, rank_correlation(trained, grad_cam(copy, image, class_id))))
    return found


def deletion_curve(model, image, class_id, order, steps=DELETION_STEPS, fill=0.0):
    """The class probability with the first 0%, 10%, ..., 100% of the pixels of ``order`` set to ``fill``."""
    height, width = image.shape[:2]
    batch = np.repeat(image[np.newaxis], steps + 1, axis=0)
    for step in range(1, steps + 1):
        gone = order[: round(step / steps * order.size)]
        batch[step].reshape(height * width, -1)[gone] = fill
    return np.asarray(model.predict(batch, verbose=0))[:, class_id]


def deletion(model, image, class_id, cam, seed=0):
    """Deletion by the map (most salient first) and by random orders; the area between the curves."""
    salient = deletion_curve(model, image, class_id, np.argsort(-cam.reshape(-1), kind="stable"))
    rng = np.random.default_rng(seed)
    orders = [rng.permutation(cam.size) for _ in range(RANDOM_ORDERS)]
    random = np.mean([deletion_curve(model, image, class_id, order) for order in orders], axis=0)
    return salient, random, float(np.mean(random - salient))
