"""From classifier to detector, as HOML's CNN chapter goes (its second half), on digit canvases
made on the spot (recipes/canvases.py): no download, seconds on a CPU.

* ``task = "localize"``: classification + localization, one digit per canvas: a softmax class head
  and a 4-unit sigmoid box head on global average pooling, MSE on the box, judged by mean IoU
  (beside the IoU of random boxes, what HOML's notebook trains its box head on).
* ``task = "crops"``: a small CNN classifies 24x24 crops (a digit, or background); converted to a
  fully convolutional network (each Dense layer becomes a VALID convolution with its weights
  reshaped), it runs once over a whole canvas and gives the class scores of every window.
* ``task = "grid"``: a YOLO-style grid detector: each of S x S cells predicts an objectness, a box
  relative to the cell and a class; non-max suppression keeps the best of overlapping boxes, and
  the test canvases' detections are scored with COCO's AP (pycocotools) and VOC's AP@0.5.

``python -m recipes.detect`` trains the Detect page's default grid detector; ``--task=crops`` runs
step 2, and ``--task=localize --canvas_size=48 --epochs=11 --box_weight=400.0`` the page's step 1.
"""

import json
import time
from pathlib import Path

import keras
import numpy as np

from recipes import override
from recipes.canvases import canvases, decode_grid, grid_targets, load_annotated
from recipes.matching import iou, report

# -----------------------------------------------------------------------------
# settings: lab.detect.DetectConfig's fields, with its defaults ("Show the code" writes the page's here)
task = "grid"  # localize (step 1), crops (step 2: the FCN), grid (step 3: YOLO-style)
seed = 0  # the same seed gives the same canvases, weights and batches
canvas_size = 64  # pixels per side
min_objects = 1  # digits per canvas (localize: always one)
max_objects = 4
min_digit = 12  # a digit's side in pixels, drawn uniformly in [min_digit, max_digit]
max_digit = 24
noise = 0.05  # the standard deviation of the background's Gaussian noise
clutter = 0  # pieces of digits strewn on each canvas: ink that is not an object
train_canvases = 4000  # canvases to train on (10% of them validate)
test_canvases = 500  # canvases the numbers are measured on (digits never seen in training)
grid_size = 8  # grid: S x S cells (the canvas size over S must be a power of two)
epochs = 8
batch_size = 32
learning_rate = 0.002  # Adam
class_weight = 1.0  # loss weights: the class term
box_weight = 5.0  # the box term (MSE on [0, 1] coordinates is small: it needs the weight)
objectness_weight = 1.0  # grid: the objectness term
score_threshold = 0.05  # grid: cells scoring less are not detections
iou_threshold = 0.5  # grid: non-max suppression drops boxes overlapping a kept one by more
data_dir = ""  # grid: a folder with canvases.npz (your annotated pictures, as the page prepared them)
# -----------------------------------------------------------------------------

CLASSES = 10  # the digits
BACKGROUND = 10  # crops: the eleventh class, "no whole digit here"
CROP_SIZE = 24  # crops: the classifier's input side; its windows step by 4 (two 2x2 poolings)


def conv_block(x, filters):
    """Conv 3x3 (same) + ReLU, then 2x2 max pooling: half the side, the receptive field grows."""
    x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
    return keras.layers.MaxPooling2D()(x)


def localization_model(canvas_size, classes=CLASSES):
    """HOML's classification + localization: a class head and a box head on global average pooling.

    The box is (centre x, centre y, width, height) as shares of the canvas, hence the sigmoid.
    """
    inputs = keras.Input((canvas_size, canvas_size, 1))
    x = inputs
    for filters in (16, 32, 64, 128):
        x = conv_block(x, filters)
    x = keras.layers.GlobalAveragePooling2D()(x)  # where the digit is survives only in the channels
    class_output = keras.layers.Dense(classes, activation="softmax", name="class")(x)
    box_output = keras.layers.Dense(4, activation="sigmoid", name="box")(x)
    return keras.Model(inputs, {"class": class_output, "box": box_output}, name="localizer")


def crop_classifier(classes=CLASSES + 1):
    """A CNN for 24x24 crops: VALID convolutions, so that as an FCN each window sees only its own pixels."""
    return keras.Sequential(
        [
            keras.Input((CROP_SIZE, CROP_SIZE, 1)),
            keras.layers.Conv2D(32, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(64, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(classes, activation="softmax"),
        ],
        name="crop_classifier",
    )


def grid_model(canvas_size, grid_size, classes=CLASSES):
    """A YOLO-style detector: conv blocks halve the canvas down to the grid, then 1x1 heads per cell."""
    inputs = keras.Input((canvas_size, canvas_size, 1))
    x, side, filters = inputs, canvas_size, 32
    while side > grid_size:
        x, side, filters = conv_block(x, filters), side // 2, min(2 * filters, 128)
    x = keras.layers.Conv2D(128, 3, padding="same", activation="relu")(x)
    outputs = {
        "objectness": keras.layers.Conv2D(1, 1, activation="sigmoid", name="objectness")(x),
        "box": keras.layers.Conv2D(4, 1, activation="sigmoid", name="box")(x),
        "class": keras.layers.Conv2D(classes, 1, activation="softmax", name="class")(x),
    }
    return keras.Model(inputs, outputs, name="grid_detector")


def box_loss(y_true, y_pred):
    """Squared error of the boxes of the cells that hold an object (y_true: [mask, x, y, w, h])."""
    mask = y_true[..., 0]
    error = keras.ops.sum(keras.ops.square(y_true[..., 1:] - y_pred), axis=-1)
    return keras.ops.sum(mask * error, axis=(1, 2)) / keras.ops.maximum(keras.ops.sum(mask, axis=(1, 2)), 1.0)


def class_loss(y_true, y_pred):
    """Cross-entropy of the classes of the cells that hold an object (y_true: [mask, class])."""
    mask = y_true[..., 0]
    entropy = keras.losses.sparse_categorical_crossentropy(y_true[..., 1], y_pred)
    return keras.ops.sum(mask * entropy, axis=(1, 2)) / keras.ops.maximum(keras.ops.sum(mask, axis=(1, 2)), 1.0)


def compile_localizer(model, learning_rate, class_weight, box_weight):
    """Two losses, weighted: cross-entropy on the class, MSE on the box."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss={"class": "sparse_categorical_crossentropy", "box": "mse"},
        loss_weights={"class": class_weight, "box": box_weight},
        metrics={"class": ["accuracy"]},
    )
    return model


def compile_crops(model, learning_rate):
    """A plain classifier: sparse labels, accuracy reported."""
    model.compile(keras.optimizers.Adam(learning_rate), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def compile_grid(model, learning_rate, objectness_weight, box_weight, class_weight):
    """YOLO's three terms: objectness on every cell, box and class on the cells with an object."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss={"objectness": "binary_crossentropy", "box": box_loss, "class": class_loss},
        loss_weights={"objectness": objectness_weight, "box": box_weight, "class": class_weight},
    )
    return model


def centre_boxes(boxes, canvas_size):
    """(x_min, y_min, x_max, y_max) pixels -> (centre x, centre y, width, height) shares of the canvas."""
    x0, y0, x1, y1 = np.asarray(boxes, np.float32).T
    return np.stack([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0], axis=1) / canvas_size


def corner_boxes(boxes, canvas_size):
    """The inverse of :func:`centre_boxes`, clipped to the canvas."""
    cx, cy, w, h = (np.asarray(boxes, np.float32) * canvas_size).T
    return np.clip(np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1), 0, canvas_size)


def paired_iou(boxes_a, boxes_b):
    """IoU of each box of ``boxes_a`` with the box of the same row of ``boxes_b``."""
    return np.array([iou(a, b[np.newaxis])[0] for a, b in zip(boxes_a, boxes_b, strict=True)])


def random_boxes(count, canvas_size, seed):
    """Boxes of random centre and size: what a box head trained on random targets can offer."""
    rng = np.random.default_rng(seed)
    return corner_boxes(rng.random((count, 4)), canvas_size)


def inside_share(box, left, top, size=CROP_SIZE):
    """The share of a box's area inside the size x size window at (left, top)."""
    width = min(box[2], left + size) - max(box[0], left)
    height = min(box[3], top + size) - max(box[1], top)
    return max(width, 0) * max(height, 0) / ((box[2] - box[0]) * (box[3] - box[1]))


def crops(count, seed, noise, clutter, split="train"):
    """24x24 crops of one-digit canvases and their labels: half of the windows hold the whole digit
    (its class), half miss most of it (BACKGROUND: noise, clutter, a digit cut off by the edge)."""
    pictures, boxes, labels = canvases(count, seed, 2 * CROP_SIZE, 1, 1, 12, 20, noise, clutter, split)
    rng = np.random.default_rng([seed, 2])
    out, classes = np.zeros((count, CROP_SIZE, CROP_SIZE, 1), np.float32), np.full(count, BACKGROUND)
    for n, (picture, (box,), (label,)) in enumerate(zip(pictures, boxes, labels, strict=True)):
        if rng.random() < 0.5:  # a window around the whole digit
            left = rng.integers(max(0, box[2] - CROP_SIZE), min(box[0], CROP_SIZE) + 1)
            top = rng.integers(max(0, box[3] - CROP_SIZE), min(box[1], CROP_SIZE) + 1)
            classes[n] = label
        else:  # a window that misses most of it
            left, top = rng.integers(0, CROP_SIZE + 1, size=2)
            while inside_share(box, left, top) >= 0.4:
                left, top = rng.integers(0, CROP_SIZE + 1, size=2)
        out[n] = picture[top : top + CROP_SIZE, left : left + CROP_SIZE]
    return out, classes


def to_fcn(model):
    """The same network as a fully convolutional one: each Dense layer becomes a Conv2D with as many
    filters as units, the first with a kernel the size of its input feature map, VALID padding, and
    the Dense weights reshaped. It takes a canvas of any size and gives a grid of predictions."""
    inputs = keras.Input((None, None, model.input_shape[-1]))
    x, feature_shape = inputs, None
    for layer in model.layers:
        if isinstance(layer, keras.layers.Flatten):
            feature_shape = layer.input.shape[1:]  # (height, width, channels) the first Dense sees
            continue
        if isinstance(layer, keras.layers.Dense):
            kernel, bias = layer.get_weights()
            height, width, channels = feature_shape
            conv = keras.layers.Conv2D(
                layer.units, (height, width), activation=layer.activation, name=f"{layer.name}_conv"
            )
            x = conv(x)
            conv.set_weights([kernel.reshape(height, width, channels, layer.units), bias])
            feature_shape = (1, 1, layer.units)
            continue
        copy = layer.__class__.from_config(layer.get_config())
        x = copy(x)
        copy.set_weights(layer.get_weights())
    return keras.Model(inputs, x, name=f"{model.name}_fcn")


def windows(canvas, size=CROP_SIZE, step=4):
    """Every size x size crop of a canvas at multiples of ``step``: what the FCN's cells see."""
    rows = range(0, canvas.shape[0] - size + 1, step)
    cols = range(0, canvas.shape[1] - size + 1, step)
    return np.stack([canvas[r : r + size, c : c + size] for r in rows for c in cols]), (len(rows), len(cols))


def fcn_check(model, fcn, canvas):
    """The FCN once over a canvas against the CNN on each window (a loop, one call per window):
    the largest difference of any score, and both times in seconds."""
    crops_of_canvas, grid = windows(canvas)
    start = time.perf_counter()
    scores = fcn(canvas[np.newaxis], training=False).numpy()[0]
    fcn_seconds = time.perf_counter() - start
    start = time.perf_counter()
    looped = np.stack([model(crop[np.newaxis], training=False).numpy()[0] for crop in crops_of_canvas])
    loop_seconds = time.perf_counter() - start
    difference = float(np.abs(scores - looped.reshape(*grid, -1)).max())
    return scores, difference, fcn_seconds, loop_seconds


def nms_steps(boxes, scores, iou_threshold, score_threshold=0.0):
    """Non-max suppression, one step at a time: drop the boxes scoring under the threshold; take the
    best box left; drop those overlapping it by more than ``iou_threshold``; repeat.

    Returns a list of (kept index, dropped indices) in the order taken.
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    left = [int(i) for i in np.argsort(-np.asarray(scores), kind="stable") if scores[i] > score_threshold]
    steps = []
    while left:
        best, rest = left[0], np.array(left[1:], int)
        overlaps = iou(boxes[best], boxes[rest]) if rest.size else np.zeros(0)
        steps.append((best, rest[overlaps > iou_threshold].tolist()))
        left = rest[overlaps <= iou_threshold].tolist()
    return steps


def nms(boxes, scores, iou_threshold, score_threshold=0.0, max_output=100):
    """The indices non-max suppression keeps, best first (as ``tf.image.non_max_suppression``)."""
    return [kept for kept, _ in nms_steps(boxes, scores, iou_threshold, score_threshold)][:max_output]


def grid_detections(outputs, canvas_size, score_threshold, iou_threshold):
    """Per canvas, the boxes, scores and classes that survive the score threshold and NMS."""
    found = []
    for n in range(len(outputs["objectness"])):
        boxes, scores, classes = decode_grid(
            outputs["objectness"][n], outputs["box"][n], outputs["class"][n], canvas_size
        )
        kept = nms(boxes, scores, iou_threshold, score_threshold)
        found.append((boxes[kept], scores[kept], classes[kept]))
    return found


def grid_data(data_dir, count, seed, shape, split):
    """The grid detector's canvases (pixels, boxes, labels) and class names: digits made on the spot,
    or your annotated pictures when ``data_dir`` is set (80% train, 20% test)."""
    if data_dir:
        return load_annotated(data_dir, seed, split)
    return (*canvases(count, seed, *shape, split=split), [str(k) for k in range(CLASSES)])


def coco_json(boxes, labels, found, class_names):
    """Ground truth and detections as COCO JSON (images 1.., categories 1.. named as the classes)."""
    instances = {
        "images": [{"id": n + 1, "file_name": f"canvas_{n + 1}.png"} for n in range(len(boxes))],
        "categories": [{"id": k + 1, "name": name} for k, name in enumerate(class_names)],
        "annotations": [],
    }
    results = []
    for n, (truth, label, (box, score, kind)) in enumerate(zip(boxes, labels, found, strict=True)):
        for b, k in zip(truth.tolist(), label.tolist(), strict=True):
            record = {"id": len(instances["annotations"]) + 1, "image_id": n + 1, "category_id": k + 1}
            wh = [b[0], b[1], b[2] - b[0], b[3] - b[1]]
            instances["annotations"].append({**record, "bbox": wh, "area": wh[2] * wh[3], "iscrowd": 0})
        for b, s, k in zip(box.tolist(), score.tolist(), kind.tolist(), strict=True):
            record = {"image_id": n + 1, "category_id": int(k) + 1, "score": round(s, 6)}
            results.append({**record, "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]]})
    return instances, results


def run_localize():
    """Step 1: train the two-headed net on one-digit canvases; print the class accuracy and mean IoU."""
    pictures, boxes, labels = canvases(train_canvases, seed, canvas_size, 1, 1, min_digit, max_digit, noise, clutter)
    targets = {"class": np.concatenate(labels), "box": centre_boxes(np.concatenate(boxes), canvas_size)}
    model = compile_localizer(localization_model(canvas_size), learning_rate, class_weight, box_weight)
    model.fit(pictures, targets, batch_size=batch_size, epochs=epochs, validation_split=0.1, verbose=2)
    test, test_boxes, test_labels = canvases(
        test_canvases, seed, canvas_size, 1, 1, min_digit, max_digit, noise, clutter, "test"
    )
    predicted = model.predict(test, verbose=0)
    truth = np.concatenate(test_boxes)
    ious = paired_iou(corner_boxes(predicted["box"], canvas_size), truth)
    print("test class accuracy:", round(float((predicted["class"].argmax(1) == np.concatenate(test_labels)).mean()), 4))
    print("mean test IoU:", round(float(ious.mean()), 4))
    print(
        "mean IoU of random boxes:",
        round(float(paired_iou(random_boxes(len(truth), canvas_size, seed), truth).mean()), 4),
    )


def run_crops():
    """Step 2: train the crop classifier, convert it to an FCN, check it against the window loop."""
    pictures, classes = crops(train_canvases, seed, noise, clutter)
    model = compile_crops(crop_classifier(), learning_rate)
    model.fit(pictures, classes, batch_size=batch_size, epochs=epochs, validation_split=0.1, verbose=2)
    test, test_classes = crops(test_canvases, seed, noise, clutter, "test")
    print("test crop accuracy:", round(float((model.predict(test, verbose=0).argmax(1) == test_classes).mean()), 4))
    demo = (canvas_size, min_objects, max_objects, min(min_digit, 20), min(max_digit, 20), noise, clutter)
    canvas = canvases(1, seed, *demo, split="test")[0][0]  # digits of at most 20 px, as the crops hold
    scores, difference, fcn_seconds, loop_seconds = fcn_check(model, to_fcn(model), canvas)
    print("FCN output grid:", scores.shape[:2])
    print("largest difference from the window loop:", f"{difference:.2e}")
    print("FCN once:", f"{fcn_seconds * 1000:.1f} ms")
    print("CNN per window:", f"{loop_seconds * 1000:.1f} ms")


def run_grid():
    """Step 3: train the grid detector; keep the best boxes by NMS; score the test canvases."""
    shape = (canvas_size, min_objects, max_objects, min_digit, max_digit, noise, clutter)
    pictures, boxes, labels, class_names = grid_data(data_dir, train_canvases, seed, shape, "train")
    objectness, box, kind = grid_targets(boxes, labels, canvas_size, grid_size)
    network = grid_model(canvas_size, grid_size, len(class_names))
    model = compile_grid(network, learning_rate, objectness_weight, box_weight, class_weight)
    print("parameters:", model.count_params())
    targets = {"objectness": objectness, "box": box, "class": kind}
    model.fit(pictures, targets, batch_size=batch_size, epochs=epochs, validation_split=0.1, verbose=2)
    test, test_boxes, test_labels, _ = grid_data(data_dir, test_canvases, seed, shape, "test")
    found = grid_detections(model.predict(test, verbose=0), canvas_size, score_threshold, iou_threshold)
    instances, results = coco_json(test_boxes, test_labels, found, class_names)
    Path("instances.json").write_text(json.dumps(instances))
    Path("results.json").write_text(json.dumps(results))
    report(instances, results, 0.5, "all", False)


def main():
    keras.utils.set_random_seed(seed)
    {"localize": run_localize, "crops": run_crops, "grid": run_grid}[task]()


if __name__ == "__main__":
    override(globals())
    main()
