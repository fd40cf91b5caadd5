""" "Show the code" that runs: complete scripts assembled from the recipes for a tool's settings.

Each renderer returns a :class:`~lab.handout.Script`: steps of (explanation, code) that read top to
bottom like a keras-io example and end by printing the numbers the page shows. A step is the
recipe's settings block with the page's values written in, the recipe functions' source, or the
calls of the recipe's main steps: the code is the lab's own (``recipes/``), copied, and never
imports ``lab``. ``tests/test_codegen.py`` runs every script in a fresh subprocess and compares what
it prints with the lab's own results.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from lab import images, uploads
from lab.handout import Script, functions, imports, main_steps, module_body, script, settings

if TYPE_CHECKING:  # TensorFlow-free at import: the padding and PR pages render scripts without it
    from lab.classify import ClassifierConfig
    from lab.convolution import ConvConfig
    from lab.padding import PaddingConfig
    from lab.pooling import PoolConfig
    from lab.pr import DetectionConfig, ScoresConfig


@dataclass(frozen=True)
class ImageChoice:
    """Which picture a page shows and how: a sample photo or an uploaded file, cropped, gray."""

    source: str = "china"  # "china", "flower", or an uploaded file's name
    crop: tuple[int, int, int, int] | None = None  # rows start, stop, columns start, stop
    grayscale: bool = False


def _pictures_functions() -> str:
    """The picture decoder's functions, without its imports (the script's first step has them)."""
    from recipes import pictures

    return functions(pictures, "flatten_alpha", "high_depth_to_rgb", "to_rgb", "picture_array", "load_picture")


def _picture_step(choice: ImageChoice, calls: str) -> tuple[str, str]:
    """(explanation, code) reading the page's picture exactly as the page does: [0, 1], cropped, luma;
    ``calls``: the recipe's main steps that read it."""
    from recipes import pictures

    if choice.source in images.SAMPLES:
        text = f"The {choice.source} photo that ships with scikit-learn (HOML's example), scaled to [0, 1]."
        code = functions(pictures, "LUMA", "SAMPLE_PHOTOS", "photo", "prepare")
    else:
        text = (
            f"Your picture: put {choice.source} beside this script. Read as the lab reads an upload "
            "(recipes/pictures.py: upright, transparency on white, RGB), scaled to [0, 1]."
        )
        code = _pictures_functions() + "\n\n\n" + functions(pictures, "LUMA", "SAMPLE_PHOTOS", "photo", "prepare")
    return text, code + "\n\n\n" + calls


def _choice_values(choice: ImageChoice, config) -> dict:
    return dataclasses.asdict(config) | dataclasses.asdict(choice)


def _split(code: str, start: str) -> tuple[str, str]:
    """A recipe's main steps cut before the line that starts with ``start``: two steps of a script."""
    lines = code.splitlines()
    at = next(index for index, line in enumerate(lines) if line.startswith(start))
    return "\n".join(lines[:at]), "\n".join(lines[at:])


def convolution_script(choice: ImageChoice, config: ConvConfig, pixel: tuple[int, int, int]) -> Script:
    """The playground's convolution: the kernel written out, ``tf.nn.conv2d``, the inspected pixel."""
    from lab.convolution import kernel_cells
    from recipes import convolution, pictures

    kernel = config.kernel()
    values = _choice_values(choice, config) | {"kernel": kernel_cells(kernel), "pixel": tuple(pixel)}
    for name in ("preset", "kernel_size", "sigma", "seed", "cells"):  # the kernel is written out instead
        del values[name]
    read, rest = _split(main_steps(convolution), "filters =")
    steps = (
        ("The page's settings.", imports(convolution, pictures) + "\n\n" + settings(convolution, **values)),
        _picture_step(choice, read),
        (
            f"The {kernel.shape[0]}x{kernel.shape[1]} kernel on the page ({config.preset!r}"
            + (", with your edits" if config.cells else "")
            + ") as a bank of filters of shape (height, width, in channels, out channels), and TensorFlow's "
            "convolution (a cross-correlation: the kernel is not flipped).",
            functions(convolution, "filter_bank", "convolve"),
        ),
        (
            "The numbers the page shows: the output shape and the inspected output pixel.",
            rest,
        ),
    )
    return script("Convolution playground", steps)


def pooling_script(choice: ImageChoice, config: PoolConfig) -> Script:
    """The viewer's pooling layer, the global average, and depth-wise pooling of the channels."""
    from recipes import pictures, pooling

    values = _choice_values(choice, config)
    for name in ("depth_size", "shift"):  # the page's other demos
        del values[name]
    read, rest = _split(main_steps(pooling), "pooled =")
    steps = (
        ("The page's settings.", imports(pooling, pictures) + "\n\n" + settings(pooling, **values)),
        _picture_step(choice, read),
        (
            f"{'Max' if config.kind == 'max' else 'Average'} pooling: each {config.pool_size}x{config.pool_size} "
            "window becomes one number. Global average pooling: one number per channel (a classifier head needs "
            "no Flatten). Depth-wise pooling over all channels: reshape + reduce, which runs on CPU and GPU alike.",
            functions(pooling, "pool", "global_average", "depth_pool"),
        ),
        ("The numbers the page shows.", rest),
    )
    return script("Pooling viewer", steps)


def padding_script(config: PaddingConfig) -> Script:
    """TensorFlow's output size and SAME split for the calculator's settings, checked by the real layer."""
    from recipes import padding

    values = dataclasses.asdict(config)
    steps = (
        ("The calculator's settings.", imports(padding) + "\n\n" + settings(padding, **values)),
        (
            "TensorFlow's rules per axis: SAME gives ceil(n / s) outputs, VALID floor((n - f) / s) + 1, with the "
            "dilated kernel f = (k - 1) d + 1; and the Keras layer they describe.",
            functions(padding, "dilated", "output_size", "same_pads", "keras_layer"),
        ),
        ("The numbers the page shows, and the real layer's output on a random image.", main_steps(padding)),
    )
    return script("Padding calculator", steps)


def planner_script(keras_code: str) -> Script:
    """The planned stack as Keras builds it, with each layer's shape and parameters."""
    build = "import keras  # Keras 3, as TensorFlow ships it\n\n" + keras_code
    steps = (
        ("The stack from the planner, as a keras.Sequential model.", build),
        (
            "The numbers the page shows: output shape and parameters per layer, and the total.",
            "model.summary()\n"
            "for layer in model.layers:\n"
            '    print(f"{layer.name}: {tuple(layer.output.shape[1:])}, {layer.count_params()} parameters")\n'
            'print("parameters:", model.count_params())',
        ),
    )
    return script("Layer-stack planner", steps)


def _ap_functions() -> str:
    from recipes import ap

    return functions(
        ap,
        "ELEVEN_LEVELS",
        "COCO_LEVELS",
        "envelope",
        "sampled_precision",
        "ap_raw",
        "ap_all",
        "every_ap",
        "print_every_ap",
    )


def pr_points_script(recall: Sequence[float], precision: Sequence[float]) -> Script:
    """Every AP definition of a typed curve, in plain NumPy."""
    order = np.argsort(np.asarray(recall, dtype=float), kind="stable")
    recall_text = ", ".join(f"{float(recall[i]):g}" for i in order)
    precision_text = ", ".join(f"{float(precision[i]):g}" for i in order)
    steps = (
        (
            "The curve on the page (sorted by recall).",
            f"import numpy as np\n\nrecall = np.array([{recall_text}])\nprecision = np.array([{precision_text}])",
        ),
        (
            "The four definitions of average precision (recipes/ap.py). 11-point compares recall with a 1e-12 "
            "tolerance (3/10 reaches 0.3); COCO's 101 levels are compared exactly, as pycocotools does.",
            _ap_functions(),
        ),
        ("The numbers the page shows.", "print_every_ap(recall, precision)"),
    )
    return script("Precision-recall: every AP definition", steps)


FOLDERS_NOTE = "my_classes"  # where a folders run's script looks for the class folders, unless the upload names one


def script_folder(config) -> str:
    """Where a script finds the learner's class folders: their zip's name unzipped (``pets.zip`` ->
    ``pets``), or :data:`FOLDERS_NOTE` (webcam captures download as ``my_classes.zip``)."""
    if not getattr(config, "data_dir", None):
        return FOLDERS_NOTE

    return uploads.script_folder(config.data_dir) or FOLDERS_NOTE


def _train_settings(config, folder: str | None) -> str:
    """The training recipe's settings block with the run's values (the class folders by their name)."""
    from recipes import data, pictures, train

    values = dataclasses.asdict(config)
    values["data_dir"] = folder or script_folder(config)
    del values["stack"]  # a custom stack is written out as its layers
    modules = (train, data) + ((pictures,) if config.dataset == "folders" else ())
    return imports(*modules) + "\n\n" + settings(train, **values)


def _data_step(config) -> tuple[str, str]:
    """(explanation, code) loading the run's data as the lab does."""
    from recipes import data

    if config.dataset == "digits":
        code, call = functions(data, "digits"), "digits(seed)"
    elif config.dataset == "folders":
        code = (
            _pictures_functions()
            + "\n\n\n"
            + functions(data, "class_files", "split_files", "square_pixels", "class_folders")
        )
        call = "class_folders(data_dir, image_size, seed)"
    else:
        code, call = functions(data, "VALIDATION_SIZE", "keras_dataset"), "keras_dataset(dataset)"
    code = functions(data, "CLASS_NAMES", "FLIPS_NATURAL") + "\n\n\n" + code
    code += f"\n\n\n(x_train, y_train), (x_valid, y_valid), (x_test, y_test), class_names = {call}"
    code += "\nflip = dataset in FLIPS_NATURAL"
    where = " (your class folders, data_dir)" if config.dataset == "folders" else ""
    return f"The data: {config.dataset}{where}, split as the lab splits it, pixels in [0, 1] (recipes/data.py).", code


def _architecture(config) -> tuple[str, str]:
    """(explanation, code) building the run's model as the lab builds it."""
    if config.model == "custom":
        from lab import planner

        specs, head = planner.with_head(planner.decode_stack(config.stack), config.num_classes)
        code = planner.keras_snippet("x_train.shape[1:]", specs, "network", last_units="len(class_names)")
        code += 'print("parameters:", network.count_params())'  # the head fits whatever classes the data has
        text = f"Your stack ({config.stack}), with the classifier head the lab adds (its last {head} layer(s))."
        return text, code
    import importlib

    import models

    builder = models.MODELS[config.model]
    module = importlib.import_module(builder.__module__)
    code = module_body(module) + f"\n\n\nnetwork = {builder.__name__}(x_train.shape[1:], len(class_names))"
    code += '\nprint("parameters:", network.count_params())'
    return f"The architecture, {config.model!r}, exactly as the lab builds it (the models/ module, copied).", code


def training_script(config, folder: str | None = None) -> Script:
    """The Train page's run: the same data split, architecture, optimizer, pipeline and callbacks.

    ``folder``: where a run on your own pictures finds the class folders (your zip, unzipped).
    """
    from recipes import data, train

    augment = " with the CIFAR-10 tutorial's distortions" if config.augmentation else ""
    steps = (
        ("The run's settings.", _train_settings(config, folder) + "\n\nkeras.utils.set_random_seed(seed)"),
        _data_step(config),
        (
            f"The input pipeline{augment}.",
            functions(data, "augment_batch", "pipeline")
            + "\n\n\ntrain_data = pipeline(x_train, y_train, batch_size, shuffle=True, augment=augmentation, "
            "flip=flip, seed=seed)\nvalid_data = pipeline(x_valid, y_valid, max(batch_size, 256))",
        ),
        _architecture(config),
        (
            f"Train: {config.optimizer} at learning rate {config.learning_rate:g}, {config.epochs} epochs; "
            "BackupAndRestore resumes an interrupted run, CSVLogger writes the history.",
            functions(train, "make_optimizer", "compile_for_training", "train")
            + "\n\n\ncompile_for_training(network, optimizer, learning_rate)"
            "\nhistory = train(network, train_data, valid_data, epochs)",
        ),
        (
            "The numbers the page shows: the history and the test accuracy.",
            functions(train, "report") + "\n\n\nreport(network, history, x_test, y_test)",
        ),
    )
    return script(f"Train {config.model} on {config.dataset}", steps)


def tflite_script(config, tflite_file: str, folder: str | None = None) -> Script:
    """Run a Train-page model's ``.tflite`` file on its test set, in Python: the page's test accuracy.

    On a phone the same file goes into LiteRT's Interpreter (Android, iOS); in Python it needs only
    ``ai-edge-litert`` (or TensorFlow's own ``tf.lite.Interpreter``).
    """
    from recipes import export

    steps = (
        (
            "The run's settings, and the LiteRT runtime: `pip install ai-edge-litert` (a few MB); TensorFlow's own "
            "interpreter works too.",
            _train_settings(config, folder) + "\n" + imports(export) + "\n\n" + functions(export, "interpreter"),
        ),
        _data_step(config),
        (
            "One call for the whole test set: resize the input to the batch, set it, invoke, read the probabilities.",
            functions(export, "tflite_predict")
            + f"\n\n\nprobabilities = tflite_predict(interpreter({tflite_file!r}), x_test)"
            '\nprint("test accuracy:", round(float((probabilities.argmax(axis=1) == y_test).mean()), 4))',
        ),
    )
    return script(f"Run {tflite_file} with LiteRT", steps)


def classifier_script(config: ClassifierConfig) -> Script:
    """The classifier page: each picked keras.applications model on each photo, fitted and preprocessed
    as the page does, top-k with probabilities (and class names where Keras has the ImageNet index).

    ``weights=None`` (random, seeded) is what the tests run offline; learners get ``"imagenet"``.
    """
    from recipes import classify, pictures

    values = dataclasses.asdict(config)
    uploads = [name for name in config.pictures if name not in images.SAMPLES]
    text = "The photos the page classifies: scikit-learn's samples by name, your files read as the lab reads an upload"
    text += f". Put {', '.join(uploads)} beside this script." if uploads else " (recipes/pictures.py)."
    load = _pictures_functions() + "\n\n\n" + functions(pictures, "SAMPLE_PHOTOS", "photo")
    load += "\n\n\n" + functions(classify, "load_photos")
    weights = (
        " with its ImageNet weights (downloaded once)" if config.weights else f" (random weights, seed {config.seed})"
    )
    steps = (
        ("The page's settings.", imports(classify, pictures) + "\n\n" + settings(classify, **values)),
        (text, functions(classify, "APPLICATIONS") + "\n\n\n" + load),
        (
            f"Fit each photo to the network's input the page's way: {config.mode}.",
            functions(classify, "central_square", "fit_batch"),
        ),
        (
            f"Each model: build it{weights}, preprocess as it was trained, and print the top classes with their probabilities.",
            functions(classify, "build", "top_classes") + "\n\n\n" + main_steps(classify),
        ),
    )
    return script("Pretrained classifier", steps)


def pr_scores_script(config: ScoresConfig) -> Script:
    """Scores and labels (the page's generator, or your CSV), the curve, the threshold's counts, every AP."""
    from recipes import ap

    values = dataclasses.asdict(config)
    steps = (
        ("The page's settings.", imports(ap) + "\n\n" + settings(ap, **values)),
        (
            "Where the scores come from: your CSV (scores_file) or the page's generator.",
            functions(ap, "read_scores", "generated_scores"),
        ),
        (
            "The precision-recall curve, one point per distinct score, and what the threshold calls positive.",
            functions(ap, "ranked_curve", "precision_recall", "operating_counts", "print_operating_point"),
        ),
        ("The four definitions of average precision.", _ap_functions()),
        (
            "The numbers the page shows, and scikit-learn's AP as the oracle (it equals 'raw').",
            main_steps(ap),
        ),
    )
    return script("Precision-recall from scores", steps)


DETECTION_FILES = ("instances.json", "results.json")  # what the page hands out beside the detection script


def detection_script(config: DetectionConfig, example: dict | None = None, format_label: str = "COCO JSON") -> Script:
    """The detections view: VOC matching and per-class AP, and COCO's summary (pycocotools).

    ``example``: the small built-in example as COCO JSON (``{"instances": ..., "results": ...}``),
    written into the script; otherwise the script reads the config's two COCO JSON files by name (the
    learner's own upload, or the page's COCO JSON of another format's files), so its size does not
    grow with the boxes, image ids keep their types and boxes their (x, y, w, h).
    """
    from recipes import ap, matching

    values = dataclasses.asdict(config)
    head = imports(matching, ap) + "\n\n" + settings(matching, **values)
    if example is not None:
        text = "The built-in example, in COCO's JSON form: the ground truth (instances) and the detector's results."
        load = f"instances = {example['instances']!r}\nresults = {example['results']!r}"
    else:
        converted = (
            ""
            if format_label == "COCO JSON"
            else (f" The page wrote them from your {format_label} files (download them beside this script).")
        )
        text = f"Your files, read by name: put {config.instances_file} and {config.results_file} beside this script.{converted}"
        load = functions(matching, "read_coco") + "\n\n\ninstances, results = read_coco(instances_file, results_file)"
    steps = (
        ("The page's settings.", head),
        (text, load),
        (
            "The boxes as tuples for the VOC matching: (image, class, x_min, y_min, x_max, y_max[, score]).",
            functions(matching, "corners", "category_names", "known_results", "coco_tables"),
        ),
        ("The AP definitions (recipes/ap.py).", functions(ap, "ranked_curve") + "\n\n\n" + _ap_functions()),
        (
            "Pascal VOC's matching: best score first, each detection takes its best-overlapping box, taken once.",
            functions(matching, "iou", "voc_hits", "voc_class_ap", "print_voc"),
        ),
        (
            "COCO's 12-number summary from pycocotools (the reference every detection paper reports).",
            functions(matching, "coco_summary"),
        ),
        (
            f"The numbers the page shows: VOC per-class AP ({config.method}) at IoU {config.iou_threshold:g} and their "
            "mean over classes with ground truth, then COCO's.",
            functions(matching, "report") + "\n\n\nreport(instances, results, iou_threshold, method, plus_one)",
        ),
    )
    return script("Detection mAP: VOC and COCO", steps)


def finetune_script(config, folder: str | None = None) -> Script:
    """The fine-tuner's two phases: the same data split and views, base, head, schedules and callbacks.

    ``folder``: where the learner's class folders are (the page's upload is unzipped there).
    """
    from recipes import data, finetune, pictures

    values = dataclasses.asdict(config)
    if config.source == "zip":
        values["data_dir"] = folder or script_folder(config)
        text = f"Your class folders: put the unzipped folder {values['data_dir']!r} beside this script (split as the page splits it)."
        code = _pictures_functions() + "\n\n\n" + functions(data, "class_files", "split_files") + "\n\n\n"
        code += (
            functions(finetune, "folder_sets")
            + "\n\n\ntrain, valid, test, class_names = folder_sets(data_dir, side, seed)"
        )
        modules = (finetune, pictures, data)
    else:
        text = "tf_flowers through tensorflow-datasets (downloaded once, 218 MB), with HOML's split."
        code = functions(finetune, "HOML_SPLITS", "flowers") + "\n\n\ntrain, valid, test, class_names = flowers(side)"
        modules = (finetune,)
    pretrained = config.weights == "imagenet"
    steps = (
        (
            "The run's settings, and the seed.",
            imports(*modules) + "\n\n" + settings(finetune, **values) + "\n\nkeras.utils.set_random_seed(seed)",
        ),
        (
            "Every picture is stored as its central square, a little larger than the input.",
            functions(finetune, "MARGIN", "BASES", "square") + "\n\n\nside = round(image_size * MARGIN)",
        ),
        (text, code),
        (
            "What training and evaluation see.",
            functions(finetune, "views")
            + "\n\n\npreprocess = getattr(keras.applications, BASES[base_model][0]).preprocess_input"
            "\ntrain_data, valid_data, test_data = views(train, valid, test, preprocess, image_size, batch_size, augmentation, seed)",
        ),
        (
            f"{config.base_model} with a new head"
            + (" (ImageNet weights, downloaded once)." if pretrained else " (random weights)."),
            functions(finetune, "build")
            + "\n\n\nmodel, base = build(base_model, weights, image_size, len(class_names))",
        ),
        (
            f"Phase 1: the head alone, base frozen, {config.head_epochs} epochs; phase 2: the base unfrozen from layer "
            f"{config.unfreeze_from}, {config.finetune_epochs} epochs at a lower rate.",
            functions(finetune, "every_layer", "calibrate_batchnorm", "compile_phase", "unfreeze", "two_phases")
            + "\n\n\nhead_done, done = two_phases(model, base, train_data, valid_data)",
        ),
        (
            "The numbers the page shows.",
            functions(finetune, "report") + "\n\n\nreport(model, test, test_data, head_done, done)",
        ),
    )
    return script(f"Fine-tune {config.base_model}", steps)


# the canvases' parts every script of digit canvases copies (recipes/canvases.py)
CANVAS_PARTS = (
    "INK",
    "TEST_SHARE",
    "PLACEMENT_TRIES",
    "digit_sprites",
    "scaled",
    "ink_box",
    "free_place",
    "add_clutter",
)


_DETECT_TASKS = {  # task: (what the script does, its recipe functions, its run function)
    "localize": (
        "Classification + localization: a softmax class head and a 4-unit sigmoid box head on global average "
        "pooling, MSE on the box, the loss weights as set; judged by the mean IoU on the test canvases.",
        ("conv_block", "localization_model", "compile_localizer", "centre_boxes", "corner_boxes", "paired_iou"),
        ("random_boxes", "run_localize"),
    ),
    "crops": (
        "A classifier of 24x24 crops (a digit, or background) with VALID convolutions; converted to a fully "
        "convolutional network (each Dense becomes a Conv2D, its weights reshaped), it runs once over a canvas, "
        "and every cell of its output equals the classifier on that window.",
        ("BACKGROUND", "CROP_SIZE", "inside_share", "crops", "crop_classifier", "compile_crops", "to_fcn"),
        ("windows", "fcn_check", "run_crops"),
    ),
    "grid": (
        "A YOLO-style grid: each cell predicts an objectness, a box relative to the cell and a class; the box and "
        "class losses count only the cells that hold an object. Non-max suppression keeps the best of "
        "overlapping boxes; the test detections are written as COCO JSON and scored (pycocotools, VOC AP@0.5).",
        ("conv_block", "grid_model", "box_loss", "class_loss", "compile_grid", "nms_steps", "nms"),
        ("grid_data", "grid_detections", "coco_json", "run_grid"),
    ),
}


def detect_script(config) -> Script:
    """One step of the Detect page: the same canvases (same seed), network, training and numbers."""
    from recipes import ap, canvases, detect, matching

    values = dataclasses.asdict(config)
    if config.data_dir:  # the page hands out the prepared canvases.npz: put it beside the script
        values["data_dir"] = "."
    text, parts, run = _DETECT_TASKS[config.task]
    canvas_parts = [*CANVAS_PARTS, "masked_canvases", "canvases"]
    if config.task == "grid":
        canvas_parts += ["grid_targets", "decode_grid", "ANNOTATED_FILE", "load_annotated"]
    scoring = ("corners", "category_names", "known_results", "coco_tables", "voc_class_ap", "print_voc")
    matches = functions(matching, "iou")
    if config.task == "grid":
        matches += "\n\n\n" + functions(ap, "ranked_curve") + "\n\n\n" + _ap_functions()
        matches += "\n\n\n" + functions(matching, "voc_hits", *scoring, "coco_summary", "report")
    steps = (
        ("The page's settings.", imports(detect, canvases, matching) + "\n\n" + settings(detect, **values)),
        (
            "The canvases: scikit-learn's digits scaled and placed at random, with their ink boxes; the test "
            "canvases use digits the training never sees (recipes/canvases.py).",
            functions(canvases, *canvas_parts),
        ),
        ("IoU, and what scores the detections (recipes/matching.py, recipes/ap.py).", matches),
        (text, functions(detect, "CLASSES", *parts)),
        ("Training, and the numbers the page shows.", functions(detect, *run)),
        ("Run it.", f"keras.utils.set_random_seed(seed)\n{run[-1]}()"),
    )
    return script(f"Detect: {config.task}", steps)


def segment_script(config) -> Script:
    """The Segment page's run: the same canvases and masks (same seed), network, training and numbers."""
    from recipes import canvases, segment

    skips = "a U-Net: each step up concatenates the encoder's map of its size" if config.skips else "no skips"
    steps = (
        ("The page's settings.", imports(segment, canvases) + "\n\n" + settings(segment, **dataclasses.asdict(config))),
        (
            "The canvases and their masks: scikit-learn's digits scaled and placed at random; a digit's ink "
            "pixels are its class, the rest background. Test canvases use digits the training never sees "
            "(recipes/canvases.py).",
            functions(canvases, *CANVAS_PARTS, "masked_canvases"),
        ),
        (
            f"The classes and the network: {config.depth} steps down (conv, max pooling), {config.depth} steps up "
            f"(a stride-2 Conv2DTranspose doubles the map), {skips}; a softmax per pixel. Cross-entropy per pixel, "
            "a digit pixel weighted, Adam along a cosine (recipes/segment.py).",
            functions(segment, "DIGIT_NAMES", "class_names", "targets", "pixel_weights", "conv_bn", "segmenter")
            + "\n\n\n"
            + functions(segment, "training_steps", "compile_segmenter"),
        ),
        (
            "The scores: IoU per class from the confusion of every test pixel, their mean, the foreground's.",
            functions(segment, "confusion", "class_ious", "foreground_iou", "predict_masks"),
        ),
        ("Training, and the numbers the page shows.", main_steps(segment)),
    )
    return script("Segment the digit canvases", steps)


def architecture_script(config) -> Script:
    """An architecture of the Classic architectures page: its builder (the models/ module, copied), counted
    as the page counts it, and (with epochs) its scaled-down version trained as the comparison run trains it."""
    import importlib

    import models
    from recipes import architectures, data

    builder = models.MODELS[config.architecture]
    spec = models.ARCHITECTURES[config.architecture]
    side = config.input_size or spec.input_shape[0]
    chosen = ({} if config.input_size else dict(spec.paper_options)) | (
        {"width": config.width} if config.width != 1.0 else {}
    )
    options = "".join(f", {name}={value!r}" for name, value in chosen.items())  # as recipes.architectures.build
    shape = (side, side, spec.input_shape[2])
    counting = ("WEIGHTED", "WINDOWED", "conv_multiply_adds", "count_multiply_adds", "grow_field", "transposed_field")
    counting += ("_window", "step", "unit_rows", "walk", "figures", "shapes_only")
    steps = [
        (
            "The page's settings.",
            imports(architectures) + "\n\n" + settings(architectures, **dataclasses.asdict(config)),
        ),
        (
            f"{spec.label} ({spec.paper}, {spec.year}), as the lab builds it (models/, copied).",
            module_body(importlib.import_module(builder.__module__)),
        ),
        (
            "Counted from the model's layers and shapes: multiply-adds of convolutions and Dense layers, the longest "
            "path of layers with weights, the receptive field (recipes/architectures.py).",
            functions(architectures, *counting),
        ),
        (
            "The numbers the page shows: the model is built in a graph of its own, without its weights.",
            f"model = shapes_only({builder.__name__}, (input_size or {side},) * 2 + {shape[2:]}, classes or "
            f"{spec.classes}{options})\nmodel.summary()\nfor name, value in figures(model, batch_size).items():\n"
            '    print(f"{name}: {value}")',
        ),
    ]
    if config.epochs:
        scaled = "".join(f", {name}={value!r}" for name, value in spec.scaled.items())
        steps += [
            (
                f"The data: {config.dataset}, split as the lab splits it, resized batch by batch to {config.train_size}.",
                functions(
                    data, "VALIDATION_SIZE", "CLASS_NAMES", "digits", "keras_dataset", "augment_batch", "pipeline"
                )
                + "\n\n\n"
                + functions(architectures, "load_splits", "sized", "train_model"),
            ),
            (
                f"The scaled-down {spec.label} trained as the comparison run trains it: Adam, {config.epochs} epochs.",
                "keras.utils.set_random_seed(seed)\nsplits, names = load_splits(dataset, seed)\n"
                f"network = {builder.__name__}((train_size, train_size, splits[0][0].shape[-1]), len(names){scaled})\n"
                'print("scaled-down parameters:", network.count_params())\n'
                'print("test accuracy:", round(train_model(network, splits, train_size, epochs, batch_size, seed), 4))',
            ),
        ]
    return script(f"{spec.label}: counted and trained", steps)


def inspect_script(train_config, config, run_id: str) -> Script:
    """The Inspect page's neuron: the run's model file and data, its receptive field and its arithmetic."""
    from recipes import inspect

    values = dataclasses.asdict(config) | {"model_file": f"{run_id}.keras", "data_dir": script_folder(train_config)}
    data_text, data_code = _data_step(train_config)
    steps = (
        (
            f"The page's settings: the run's model (download {run_id}.keras from the Train page), its data and the "
            "neuron.",
            imports(inspect) + "\n\n" + settings(inspect, **values),
        ),
        (data_text, data_code),
        (
            "The model as one graph (a Sequential stack wired again from one Input), and the way from the input to "
            "the layer: every kernel, stride, dilation and padding, walked back to the pixels the neuron sees.",
            functions(inspect, "SHAPING", "wiring", "window", "pad_before", "windows_to", "receptive_field"),
        ),
        (
            "The neuron's arithmetic: patch x kernel over every input channel, + bias, the activation, then any "
            "BatchNormalization and activation layers after it; pooling's winner; a dense unit's inputs x weights.",
            functions(inspect, "following", "layer_values", "conv_terms", "activate", "batch_norm", "conv_steps")
            + "\n\n\n"
            + functions(inspect, "pool_winner", "dense_terms", "first_conv", "load", "report"),
        ),
        (
            "The numbers the page shows.",
            "model = load(model_file)\nreport(model, x_test[picture], layer, row, col, channel)",
        ),
    )
    return script(f"Inspect a neuron of {run_id}", steps)
