"""Digit canvases for detection and segmentation, made on the spot: scikit-learn's handwritten digits,
scaled and placed at random on a noisy background, with their exact boxes, labels and per-pixel masks.
No download.

A canvas is float32 (size, size, 1) in [0, 1]; its boxes are ``(x_min, y_min, x_max, y_max)`` in
pixels around each digit's ink (the pixels of 0.25 or more), its labels the digits 0-9. Training
canvases use 80% of the 1,797 handwritten digits, test canvases the other 20%: a detector is
judged on handwriting it never saw. The same seed gives the same canvases.
"""

import itertools

import numpy as np
from PIL import Image

INK = 0.25  # a sprite pixel at or above this is part of the digit (its box hugs these pixels)
TEST_SHARE = 0.2  # the share of scikit-learn's digits kept for test canvases
PLACEMENT_TRIES = 60  # random places tried per digit before the canvas settles for fewer digits


def digit_sprites(split):
    """scikit-learn's 8x8 digits of one split ("train" or "test") in [0, 1], and their labels."""
    from sklearn.datasets import load_digits

    loaded = load_digits()
    order = np.random.default_rng(1797).permutation(len(loaded.target))  # a fixed split, whatever the seed
    cut = int(len(order) * (1 - TEST_SHARE))
    chosen = order[:cut] if split == "train" else order[cut:]
    return (loaded.images[chosen] / 16.0).astype(np.float32), loaded.target[chosen].astype(np.int64)


def scaled(sprite, side):
    """An 8x8 digit resized to side x side (bilinear), in [0, 1]."""
    picture = Image.fromarray(sprite, mode="F").resize((side, side), Image.Resampling.BILINEAR)
    return np.clip(np.asarray(picture), 0.0, 1.0)


def ink_box(sprite, left, top):
    """The box around a placed sprite's ink, in canvas pixels (x_min, y_min, x_max, y_max)."""
    rows, cols = np.nonzero(sprite >= INK)
    return np.array([left + cols.min(), top + rows.min(), left + cols.max() + 1, top + rows.max() + 1], np.float32)


def free_place(rng, taken, side, canvas_size):
    """A top-left corner where a side x side square overlaps no taken square (with a 1 px gap), or None."""
    for _ in range(PLACEMENT_TRIES):
        left, top = rng.integers(0, canvas_size - side + 1, size=2)
        if all(
            left + side + 1 <= x or x + s + 1 <= left or top + side + 1 <= y or y + s + 1 <= top for x, y, s in taken
        ):
            return int(left), int(top)
    return None


def add_clutter(rng, canvas, sprites, pieces):
    """Pieces of digits (a quarter of one, at most 6x6 px) strewn about: ink that is not an object."""
    size = canvas.shape[0]
    for _ in range(pieces):
        piece = scaled(sprites[rng.integers(len(sprites))], 12)[:6, :6] * rng.uniform(0.5, 1.0)
        left, top = rng.integers(0, size - 6, size=2)
        np.maximum(canvas[top : top + 6, left : left + 6], piece, out=canvas[top : top + 6, left : left + 6])


def canvases(count, seed, *shape, **options):
    """``count`` canvases with 1-4 digits each: (N, size, size, 1) pixels, per canvas a (k, 4) box
    array and a (k,) label array; the shape and options are :func:`masked_canvases`'. A digit that
    finds no free place is left out (a crowded canvas)."""
    pictures, _, boxes, labels = masked_canvases(count, seed, *shape, **options)
    return pictures, boxes, labels


def masked_canvases(
    count,
    seed,
    canvas_size=64,
    min_objects=1,
    max_objects=4,
    min_digit=12,
    max_digit=24,
    noise=0.05,
    clutter=0,
    split="train",
):
    """The same canvases as :func:`canvases` (the same seed gives the same pixels) and their masks:
    (N, size, size) uint8 with 1 + the digit on each digit's ink (its pixels of INK or more), 0 elsewhere
    (the background, its noise and clutter). Then boxes and labels per canvas."""
    sprites, digits = digit_sprites(split)
    rng = np.random.default_rng([seed, 0 if split == "train" else 1])
    pictures = np.zeros((count, canvas_size, canvas_size), np.float32)
    masks = np.zeros((count, canvas_size, canvas_size), np.uint8)
    boxes, labels = [], []
    for canvas, mask in zip(pictures, masks, strict=True):
        add_clutter(rng, canvas, sprites, clutter)
        taken, canvas_boxes, canvas_labels = [], [], []
        for _ in range(rng.integers(min_objects, max_objects + 1)):
            side = int(rng.integers(min_digit, max_digit + 1))
            place = free_place(rng, taken, side, canvas_size)
            if place is None:
                continue
            chosen = rng.integers(len(sprites))
            sprite = scaled(sprites[chosen], side)
            left, top = place
            window = (slice(top, top + side), slice(left, left + side))
            np.maximum(canvas[window], sprite, out=canvas[window])
            mask[window][sprite >= INK] = digits[chosen] + 1
            taken.append((left, top, side))
            canvas_boxes.append(ink_box(sprite, left, top))
            canvas_labels.append(digits[chosen])
        boxes.append(np.array(canvas_boxes, np.float32).reshape(-1, 4))
        labels.append(np.array(canvas_labels, np.int64))
    pictures += rng.normal(0.0, noise, pictures.shape).astype(np.float32) if noise else 0.0
    return np.clip(pictures, 0.0, 1.0)[..., np.newaxis], masks, boxes, labels


def grid_targets(boxes, labels, canvas_size, grid_size):
    """YOLO's targets: the cell holding a box's centre is responsible for it.

    Returns (N, S, S, 1) objectness, (N, S, S, 5) [mask, x, y, w, h] with x, y the centre's place
    inside its cell and w, h the box's share of the canvas (all in [0, 1]), and (N, S, S, 2)
    [mask, class]. Two centres in one cell: the larger box keeps it.
    """
    count, cell = len(boxes), canvas_size / grid_size
    objectness = np.zeros((count, grid_size, grid_size, 1), np.float32)
    box = np.zeros((count, grid_size, grid_size, 5), np.float32)
    kind = np.zeros((count, grid_size, grid_size, 2), np.float32)
    for n, (canvas_boxes, canvas_labels) in enumerate(zip(boxes, labels, strict=True)):
        areas = (canvas_boxes[:, 2] - canvas_boxes[:, 0]) * (canvas_boxes[:, 3] - canvas_boxes[:, 1])
        for (x0, y0, x1, y1), label in zip(
            canvas_boxes[np.argsort(areas)], canvas_labels[np.argsort(areas)], strict=True
        ):
            cx, cy = (x0 + x1) / 2 / cell, (y0 + y1) / 2 / cell
            row, col = min(int(cy), grid_size - 1), min(int(cx), grid_size - 1)
            objectness[n, row, col] = 1.0
            box[n, row, col] = [1.0, cx - col, cy - row, (x1 - x0) / canvas_size, (y1 - y0) / canvas_size]
            kind[n, row, col] = [1.0, label]
    return objectness, box, kind


def decode_grid(objectness, box, class_probabilities, canvas_size):
    """One canvas's grid output -> every cell's box (x_min, y_min, x_max, y_max), score and class.

    The score is objectness x the best class probability (YOLO's class-specific confidence).
    """
    grid_size = objectness.shape[0]
    cell = canvas_size / grid_size
    rows, cols = np.meshgrid(np.arange(grid_size), np.arange(grid_size), indexing="ij")
    cx, cy = (cols + box[..., 0]) * cell, (rows + box[..., 1]) * cell
    half_w, half_h = box[..., 2] * canvas_size / 2, box[..., 3] * canvas_size / 2
    corners = np.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], axis=-1).reshape(-1, 4)
    classes = class_probabilities.reshape(-1, class_probabilities.shape[-1])
    scores = objectness.reshape(-1) * classes.max(axis=1)
    return np.clip(corners, 0, canvas_size), scores, classes.argmax(axis=1)


ANNOTATED_FILE = "canvases.npz"  # your annotated pictures, prepared by the Detect page (gray, resized, boxes scaled)


def save_annotated(folder, pictures, boxes, labels, class_names):
    """Pictures (N, size, size, 1) in [0, 1], boxes and labels per picture -> ``folder/canvases.npz``."""
    import json
    from pathlib import Path

    counts = np.array([len(b) for b in boxes], np.int64)
    np.savez_compressed(
        Path(folder) / ANNOTATED_FILE,
        pixels=np.rint(pictures * 255).astype(np.uint8),
        boxes=np.concatenate(boxes).reshape(-1, 4).astype(np.float32),
        labels=np.concatenate(labels).astype(np.int64),
        counts=counts,
        class_names=json.dumps(list(class_names)),
    )


def load_annotated(folder, seed, split="train"):
    """Your annotated pictures: 80% train, 20% test (a seeded shuffle); pixels, boxes, labels, class names."""
    import json
    from pathlib import Path

    with np.load(Path(folder) / ANNOTATED_FILE) as saved:
        pictures = saved["pixels"].astype(np.float32) / 255.0
        edges = np.concatenate([[0], np.cumsum(saved["counts"])])
        boxes = [saved["boxes"][a:b] for a, b in itertools.pairwise(edges)]
        labels = [saved["labels"][a:b] for a, b in itertools.pairwise(edges)]
        class_names = json.loads(str(saved["class_names"]))
    order = np.random.default_rng(seed).permutation(len(pictures))
    cut = round(len(order) * (1 - TEST_SHARE))
    chosen = order[:cut] if split == "train" else order[cut:]
    return pictures[chosen], [boxes[i] for i in chosen], [labels[i] for i in chosen], class_names
