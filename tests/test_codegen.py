""" "Show the code" runs: every rendered script executes in a fresh, offline subprocess and prints the
numbers the lab computes for the same settings."""

from __future__ import annotations

import ast
import json
import re
import subprocess

import numpy as np
import pytest
from PIL import Image

from lab import classify, codegen, convolution, handout, images, padding, planner, pooling, pr, uploads
from lab.convolution import ConvConfig
from lab.pooling import PoolConfig
from tests.imagegen import encode, gradient
from tests.script_envs import python_for

pytestmark = pytest.mark.slow


LITERAL_COMPARISON = re.compile(r"""(["'])[\w ]*\1\s*[!=]=\s*(["'])[\w ]*\2""")  # if "valid" == "same":


def run(script: codegen.Script, cwd) -> dict[str, str]:
    """Execute the .py in a fresh environment holding exactly its pip line's packages; return
    {printed label: value} of its "label: value" lines."""
    source = script.python()
    assert "import lab" not in source and "from lab" not in source  # it teaches the libraries
    assert source.startswith(f"# {script.install_line}\n")
    assert not LITERAL_COMPARISON.search(source), LITERAL_COMPARISON.search(source).group()  # render the branch
    path = cwd / "script.py"
    path.write_text(source)
    python = python_for(script.requirements)
    done = subprocess.run([str(python), str(path)], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(line.split(": ", 1) for line in done.stdout.splitlines() if ": " in line)


def lab_image(choice: codegen.ImageChoice, cwd) -> np.ndarray:
    raw = (
        images.sample_image(choice.source)
        if choice.source in images.SAMPLES
        else images.load_image(cwd / choice.source)
    )
    return images.prepare(raw, grayscale=choice.grayscale, crop=choice.crop)


CONVOLUTIONS = {
    "HOML's vertical line": (codegen.ImageChoice(), ConvConfig(), (100, 100, 0)),
    "dilation 2, VALID": (
        codegen.ImageChoice("flower"),
        ConvConfig(preset="sobel x", padding="valid", dilation=2),
        (5, 7, 0),
    ),
    "per-channel maps, bias and ReLU": (
        codegen.ImageChoice(),
        ConvConfig(preset="laplacian", per_channel=True, bias=-0.1, relu=True),
        (40, 50, 2),
    ),
    "gray HOML crop, stride 3": (
        codegen.ImageChoice("china", images.HOML_CROP, True),
        ConvConfig(preset="gaussian blur", kernel_size=5, sigma=1.5, stride=3),
        (10, 20, 0),
    ),
    "edited cells, 0.1 exactly as float32": (
        codegen.ImageChoice(),
        ConvConfig(cells="0.1,-2.5,0;0.125,3,1e-05;0,0,0.3333"),
        (60, 70, 0),
    ),
    "an uploaded picture": (
        codegen.ImageChoice("mine.png"),
        ConvConfig(preset="random", kernel_size=3, seed=7),
        (30, 40, 0),
    ),
}


@pytest.mark.parametrize("name", list(CONVOLUTIONS))
def test_convolution_scripts_print_the_page_numbers(name, tmp_path):
    choice, config, pixel = CONVOLUTIONS[name]
    (tmp_path / "mine.png").write_bytes(encode(Image.fromarray(gradient(90, 120)), "PNG"))
    image = lab_image(choice, tmp_path)
    kernel = config.kernel()
    filters = convolution.expand_kernel(kernel, image.shape[2], config.per_channel and image.shape[2] > 1)
    maps = convolution.convolve(image, filters, config)
    printed = run(codegen.convolution_script(choice, config, pixel), tmp_path)
    assert ast.literal_eval(printed["output shape"]) == maps.shape
    row, col, which = pixel
    assert abs(float(printed[f"pixel ({row}, {col}) of map {which}"]) - maps[row, col, which]) < 1e-5


POOLINGS = {
    "max 2, VALID, HOML crop": (codegen.ImageChoice("china", images.HOML_CROP), PoolConfig()),
    "average 3, stride 2, SAME, gray": (
        codegen.ImageChoice("flower", (0, 100, 0, 90), True),
        PoolConfig(kind="avg", pool_size=3, stride=2, padding="same"),
    ),
}


@pytest.mark.parametrize("name", list(POOLINGS))
def test_pooling_scripts_print_the_page_numbers(name, tmp_path):
    choice, config = POOLINGS[name]
    image = lab_image(choice, tmp_path)
    pooled = pooling.pool(image, config)
    printed = run(codegen.pooling_script(choice, config), tmp_path)
    assert ast.literal_eval(printed["pooled shape"]) == pooled.shape
    np.testing.assert_allclose(json.loads(printed["pooled top-left 2x2 of channel 0"]), pooled[:2, :2, 0], atol=1e-5)
    np.testing.assert_allclose(json.loads(printed["global average"]), pooling.global_average_pool(image), atol=1e-5)
    depth = pooling.depth_pool(image, image.shape[2], config.kind) if image.shape[2] > 1 else image
    assert ast.literal_eval(printed["depth-pooled shape"]) == depth.shape


PADDINGS = {
    "SAME, odd pad after": ((7, 3, 2, 1), (8, 3, 2, 1), "same", "conv"),
    "VALID with dropped rows": ((8, 3, 2, 1), (9, 2, 3, 1), "valid", "conv"),
    "dilation with stride (TensorFlow refuses)": ((15, 3, 2, 2), (15, 3, 1, 1), "same", "conv"),
    "max pooling, SAME": ((13, 3, 2, 1), (10, 2, 2, 1), "same", "max"),
}


@pytest.mark.parametrize("name", list(PADDINGS))
def test_padding_scripts_print_the_page_numbers(name, tmp_path):
    height, width, mode, op = PADDINGS[name]
    config = padding.PaddingConfig(*zip(height, width, strict=True), padding=mode, op=op)
    plans = config.plans()
    printed = run(codegen.padding_script(config), tmp_path)
    assert ast.literal_eval(printed["output"]) == (plans[0].output_size, plans[1].output_size)
    assert ast.literal_eval(printed["pad top/bottom"]) == (plans[0].pad_before, plans[0].pad_after)
    assert ast.literal_eval(printed["pad left/right"]) == (plans[1].pad_before, plans[1].pad_after)
    if "refuses" not in name:
        assert ast.literal_eval(printed["TensorFlow's output"]) == (plans[0].output_size, plans[1].output_size)


@pytest.mark.parametrize("preset", ["HOML Fashion-MNIST CNN", "ResNet-50 stem (Ng)"])
def test_planner_scripts_build_the_planned_parameters(preset, tmp_path):
    shape, specs = planner.PRESETS[preset]
    plan = planner.plan_stack(shape, specs)
    printed = run(codegen.planner_script(planner.keras_snippet(shape, specs)), tmp_path)
    assert int(printed["parameters"]) == plan.total_params
    shapes = [ast.literal_eval(value.split("), ")[0] + ")") for key, value in printed.items() if "parameters" in value]
    assert shapes == [layer.output_shape for layer in plan.layers]


@pytest.mark.parametrize("curve", ["HOML", "random"])
def test_ap_scripts_print_every_definition(curve, tmp_path, rng):
    if curve == "HOML":
        recall, precision = np.array(pr.HOML_RECALL), np.array(pr.HOML_PRECISION)
    else:
        recall, precision = np.sort(rng.random(15)), rng.random(15)
    printed = run(codegen.pr_points_script(recall, precision), tmp_path)
    for method, value in pr.all_methods(recall, precision).items():
        assert abs(float(printed[method]) - value) <= 5e-5, method
    if curve == "HOML":
        assert printed["11point"] == "0.7136"


def test_the_notebook_runs_too(tmp_path):
    import nbclient
    import nbformat

    choice, config, pixel = CONVOLUTIONS["HOML's vertical line"]
    script = codegen.convolution_script(choice, config, pixel)
    notebook = nbformat.reads(script.notebook(), as_version=4)
    nbformat.validate(notebook)
    assert [cell.cell_type for cell in notebook.cells][:4] == ["markdown", "code", "markdown", "code"]
    # The install cell is the script's pip line (run() proves that line in a fresh environment); the
    # kernel here is the project's, whose CPU TensorFlow a `%pip install tensorflow` would duplicate.
    assert notebook.cells[1].source == f"%{script.install_line}"
    del notebook.cells[1]
    nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    outputs = "".join(output.get("text", "") for cell in notebook.cells for output in cell.get("outputs", []))
    assert re.search(r"output shape: \(427, 640, 1\)", outputs)


@pytest.mark.parametrize(
    "settings",
    [
        {"epochs": 1},
        {"epochs": 2, "optimizer": "nesterov", "learning_rate": 0.01, "augmentation": True, "batch_size": 64},
    ],
    ids=["1-epoch digits", "nesterov with augmentation"],
)
def test_the_training_script_trains_like_the_page(settings, tmp_path):
    from lab import runlog, training

    config = training.TrainConfig(**settings)
    result = training.run(config, tmp_path / "run", runlog.RunLog(lambda rows: None))
    printed = run(codegen.training_script(config), tmp_path)
    assert int(printed["epochs"]) == config.epochs == result["epochs"]
    assert abs(float(printed["test accuracy"]) - result["test_accuracy"]) <= 0.05
    assert (tmp_path / "history.csv").read_text().count("\n") == config.epochs + 1


@pytest.mark.parametrize(("mode", "pictures"), [("resize", ["china"]), ("crop_and_resize", ["flower", "mine.png"])])
def test_the_classifier_script_gives_the_page_top_k(mode, pictures, tmp_path):
    from lab import classify
    from lab.device import keras

    (tmp_path / "mine.png").write_bytes(encode(Image.fromarray(gradient(150, 100)), "PNG"))
    keras.utils.set_random_seed(123)  # whatever ran before: the page seeds its random weights itself
    loaded = classify.load_imagenet("ResNet50", weights=None)  # random but seeded: its outputs are distinct
    photos = [
        images.sample_image(name) if name in images.SAMPLES else images.load_image(tmp_path / name) for name in pictures
    ]
    expected = classify.classify(loaded, photos, top_k=3, mode=mode).predictions
    printed = run(
        codegen.classifier_script(classify.ClassifierConfig(("ResNet50",), tuple(pictures), mode, 3, None)), tmp_path
    )
    for name, predictions in zip(pictures, expected, strict=True):
        found = dict(item.split("=") for item in printed[f"ResNet50 on {name}"].split(", "))
        assert [int(i) for i in found] == [p.class_id for p in predictions]
        np.testing.assert_allclose([float(v) for v in found.values()], [p.probability for p in predictions], atol=1e-5)


@pytest.mark.parametrize("source", ["generator", "csv"])
def test_the_scores_script_prints_the_counts_and_every_ap(source, tmp_path):
    if source == "generator":
        settings = pr.ScoresConfig(2000, 2.0, 0.3, 7, threshold=0.55)
        scores, labels = pr.synthetic_scores(2000, 2.0, 0.3, 7)
    else:
        settings = pr.ScoresConfig(threshold=0.55, scores_file="scores.csv")
        rng = np.random.default_rng(3)
        labels = (rng.random(300) < 0.4).astype(int)
        scores = np.round(rng.random(300) + labels * 0.3, 2)  # ties, as real scores have
        (tmp_path / "scores.csv").write_text(
            "score,label\n" + "".join(f"{s},{y}\n" for s, y in zip(scores, labels, strict=True))
        )
    curve = pr.precision_recall(scores, labels)
    point = pr.operating_point(curve, 0.55)
    printed = run(codegen.pr_scores_script(settings), tmp_path)
    assert {name: printed[name] for name in ("precision", "recall", "TP", "FP", "FN")} == point.figures()
    for method, value in pr.all_methods(curve.recall, curve.precision).items():
        assert abs(float(printed[method]) - value) <= 5e-5, method
    assert abs(float(printed["sklearn"]) - pr.sklearn_average_precision(scores, labels)) <= 5e-7


def detection_numbers(data, iou_threshold: float, method: str) -> tuple[float, dict]:
    from lab import annotations, coco, detection

    voc = detection.evaluate_detections(*annotations.to_tables(data), iou_threshold, method)
    return voc.mean_ap, coco.evaluate(data).summary()


def assert_detection_script_agrees(printed: dict, data, iou_threshold: float, method: str) -> None:
    voc, summary = detection_numbers(data, iou_threshold, method)
    assert abs(float(printed["VOC mAP"]) - voc) <= 5e-5
    assert abs(float(printed["COCO mAP@[.5:.95]"]) - summary["AP"]) <= 5e-5
    assert abs(float(printed["COCO AP50"]) - summary["AP50"]) <= 5e-5


def write_coco(tmp_path, instances, results, names=("gt.json", "dt.json")) -> dict[str, bytes]:
    files = {"coco_gt": json.dumps(instances).encode(), "coco_dt": json.dumps(results).encode()}
    (tmp_path / names[0]).write_bytes(files["coco_gt"])
    (tmp_path / names[1]).write_bytes(files["coco_dt"])
    return files


def test_the_detection_script_of_the_example_prints_voc_and_coco_numbers(tmp_path):
    from lab import annotations, detection

    data = annotations.from_tables(*detection.example_detections())
    instances, results = annotations.coco_json(data)
    script = codegen.detection_script(pr.DetectionConfig(), {"instances": instances, "results": results})
    assert_detection_script_agrees(run(script, tmp_path), data, 0.5, "all")


def test_an_uploaded_coco_pair_is_read_by_name_with_its_ids_and_boxes_as_given(tmp_path):
    """Float boxes (x + w) - x != w, crowds, ties: the script reads the learner's files as they are."""
    from lab import annotations
    from tests.cocogen import scenario

    instances, results = scenario(2, images=6, classes=2, crowd=0.2)
    data = annotations.load("coco", write_coco(tmp_path, instances, results))
    script = codegen.detection_script(pr.DetectionConfig("gt.json", "dt.json", 0.6, "11point"))
    assert "gt.json" in script.python()
    assert_detection_script_agrees(run(script, tmp_path), data, 0.6, "11point")


def test_tied_scores_across_integer_image_ids_give_the_page_number_in_the_script(tmp_path):
    """Images 2 and 10, one truth each, two detections at score 0.5 (a miss on 2, a hit on 10): COCO
    ranks tied detections by image id, 2 before 10 as integers ("10" < "2" as text gave 0.505)."""
    from lab import annotations
    from tests.cocogen import pycocotools_eval

    instances = {
        "images": [{"id": 2}, {"id": 10}],
        "categories": [{"id": 1, "name": "thing"}],
        "annotations": [
            {"id": 1, "image_id": 2, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100, "iscrowd": 0},
            {"id": 2, "image_id": 10, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100, "iscrowd": 0},
        ],
    }
    results = [
        {"image_id": 2, "category_id": 1, "bbox": [50, 50, 10, 10], "score": 0.5},
        {"image_id": 10, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.5},
    ]
    data = annotations.load("coco", write_coco(tmp_path, instances, results))
    _, summary = detection_numbers(data, 0.5, "all")
    assert summary["AP"] == pytest.approx(pycocotools_eval(instances, results)[0][0], abs=1e-12)
    assert round(summary["AP"], 4) == 0.2525
    printed = run(codegen.detection_script(pr.DetectionConfig("gt.json", "dt.json")), tmp_path)
    assert float(printed["COCO mAP@[.5:.95]"]) == 0.2525


@pytest.mark.parametrize("format_name", ["csv", "voc", "yolo"])
def test_other_formats_hand_the_script_the_coco_json_the_page_scored(format_name, tmp_path):
    from lab import annotations

    files = {name: content for name, (_, content) in annotations.example_files(format_name).items()}
    data = annotations.load(format_name, files)
    instances, results = annotations.coco_json(data)
    write_coco(tmp_path, instances, results, codegen.DETECTION_FILES)
    script = codegen.detection_script(
        pr.DetectionConfig(*codegen.DETECTION_FILES, 0.5, "coco101", True), format_label=format_name
    )
    assert_detection_script_agrees(run(script, tmp_path), data, 0.5, "coco101")


def test_the_finetune_script_runs_both_phases_like_the_page(tmp_path):
    from lab import finetune, runlog
    from tests.zipgen import make_zip, shapes_members

    staged = uploads.stage_zip(make_zip(shapes_members(20)), tmp_path / "uploads")
    settings = {"source": "zip", "data_dir": str(staged.path), "base_model": "MobileNetV2", "weights": None}
    config = finetune.FinetuneConfig(**settings, image_size=64, batch_size=8, head_epochs=1, finetune_epochs=1)
    result = finetune.run(config, tmp_path / "run", runlog.RunLog(lambda rows: None))
    printed = run(codegen.finetune_script(config, folder=str(staged.path)), tmp_path)
    assert int(printed["phase 1 epochs"]) == result["head_epochs"] == 1 and int(printed["epochs"]) == 2
    # The same pipeline, reproducible on both sides (sequential augmentation): the same 6 test images right.
    assert float(printed["test accuracy"]) == pytest.approx(result["test_accuracy"], abs=1e-4)
    assert (tmp_path / "history.csv").read_text().count("\n") == 3  # a header and one line per epoch


def test_a_custom_planner_stack_builds_the_planned_parameters(tmp_path):
    rows = [
        {"layer": "Conv2D", "size": 8, "kernel": "5x3", "stride": "2", "padding": "same", "dilation": None},
        {"layer": "BatchNormalization"},
        {"layer": "MaxPooling2D", "kernel": "3", "stride": "2", "padding": "valid"},
        {"layer": "Conv2D", "size": 16, "kernel": "3", "dilation": "2", "bias": False},
        {"layer": "GlobalAveragePooling2D"},
        {"layer": "Dense", "size": 5, "activation": "softmax"},
    ]
    specs = planner.parse_stack(rows)
    plan = planner.plan_stack((40, 30, 3), specs)
    printed = run(codegen.planner_script(planner.keras_snippet((40, 30, 3), specs)), tmp_path)
    assert int(printed["parameters"]) == plan.total_params


def test_a_custom_stack_on_your_own_pictures_trains_like_the_page_and_its_tflite_file_agrees(tmp_path):
    from lab import export, runlog, training
    from tests.zipgen import make_zip, shapes_members

    staged = uploads.stage_zip(make_zip(shapes_members(20)), tmp_path / "uploads")
    stack = "conv-8-k3-same-relu,max-k2,conv-16-k3-same-relu,gap"
    settings = {"dataset": "folders", "data_dir": str(staged.path), "image_size": 32, "model": "custom"}
    config = training.TrainConfig(**settings, stack=stack, epochs=3, batch_size=8)
    result = training.run(config, tmp_path / "run", runlog.RunLog(lambda rows: None))
    printed = run(codegen.training_script(config, folder=str(staged.path)), tmp_path)
    assert int(printed["parameters"]) == config.plan().total_params == 1_443  # 3 classes: red, green, blue
    assert int(printed["epochs"]) == 3 and float(printed["test accuracy"]) == pytest.approx(
        result["test_accuracy"], abs=1e-4
    )
    tflite = tmp_path / "run" / export.TFLITE_FILE
    printed = run(codegen.tflite_script(config, str(tflite), folder=str(staged.path)), tmp_path)
    assert float(printed["test accuracy"]) == pytest.approx(result["test_accuracy"], abs=1e-4)
    assert result["tflite_max_difference"] <= 1e-4 and result["tflite_images"] == 6  # 2 of each class


def test_every_script_starts_with_what_to_install():
    """Convolution needed Pillow (load_sample_image), the planner a Keras backend, the fine-tuner tfds."""
    from lab import finetune

    choice, config, pixel = CONVOLUTIONS["HOML's vertical line"]
    convolution_line = codegen.convolution_script(choice, config, pixel).install_line
    assert convolution_line == "pip install numpy pillow scikit-learn tensorflow"
    planner_script = codegen.planner_script(planner.keras_snippet(*planner.PRESETS["LeNet-5"]))
    assert "tensorflow" in planner_script.requirements
    finetune_script = codegen.finetune_script(finetune.FinetuneConfig())
    assert {"tensorflow", "tensorflow-datasets", "importlib_resources"} <= set(finetune_script.requirements)
    assert codegen.pr_points_script([0.0, 1.0], [1.0, 0.5]).install_line == "pip install numpy"
    assert finetune_script.notebook().count("%pip install") == 1
    with pytest.raises(KeyError, match="torch"):
        handout.requirements("import torch")


def test_scripts_render_from_many_sessions_at_once():
    """CPython 3.11's ast.parse is not thread-safe: 8 sessions rendering the Train page's script at once
    raised SystemError at random. A module is parsed once, under a lock, and reused."""
    from concurrent.futures import ThreadPoolExecutor

    from lab import training

    handout._parsed_body.cache_clear()
    handout._recipe_parts.cache_clear()
    config = training.TrainConfig()
    with ThreadPoolExecutor(8) as pool:
        scripts = list(pool.map(lambda _: codegen.training_script(config).python(), range(32)))
    assert len(set(scripts)) == 1
    assert handout._parsed_body.cache_info().misses == 1  # models/cnns.py
    assert handout._recipe_parts.cache_info().misses == 2  # recipes/train.py and recipes/data.py


def test_scripts_name_the_learners_own_folder_and_render_only_the_branch_that_applies(tmp_path):
    """The fine-tune script expected my_classes/ whatever the zip held; the padding and classifier
    scripts compared literals ("valid" == "same")."""
    from lab import finetune, training
    from tests.zipgen import make_zip, shapes_members

    staged = uploads.stage_zip(make_zip(shapes_members(6)), tmp_path / "uploads", "pets.zip")
    tune = codegen.finetune_script(finetune.FinetuneConfig(source="zip", data_dir=str(staged.path)))
    train = codegen.training_script(training.TrainConfig(dataset="folders", data_dir=str(staged.path)))
    for script in (tune, train):
        assert 'data_dir = "pets"' in script.python() and "my_classes" not in script.python()
    sources = [codegen.padding_script(padding.PaddingConfig(padding="valid")).python()]
    sources += [
        codegen.classifier_script(classify.ClassifierConfig(("ResNet50",), ("china",), mode, 3)).python()
        for mode in ("resize", "crop_and_resize")
    ]
    for source in sources:
        assert not LITERAL_COMPARISON.search(source)


@pytest.mark.parametrize("name", ["phone.jpg", "transparent.png", "deep.png", "palette.png", "cmyk.jpg"])
def test_every_script_reads_an_odd_picture_as_the_lab_does(name, tmp_path):
    """A phone photo came out rotated in the scripts and transparency black (white in the lab): every
    script that loads a picture now runs the lab's own decoder (recipes/pictures.py, copied)."""
    from tests.imagegen import odd_pictures

    (tmp_path / name).write_bytes(odd_pictures()[name])
    lab_pixels = images.load_image(tmp_path / name)
    if name == "phone.jpg":
        assert lab_pixels.shape[:2] == (40, 20)  # EXIF orientation 6: upright, 20 wide, 40 tall
    if name == "transparent.png":
        assert (lab_pixels[:, :24] == 255).all()  # the transparent half is white, as a browser shows it
    choice = codegen.ImageChoice(name)
    config = ConvConfig(preset="identity", kernel_size=1)
    printed = run(codegen.convolution_script(choice, config, (5, 7, 0)), tmp_path)
    assert ast.literal_eval(printed["input shape"]) == lab_pixels.shape
    assert abs(float(printed["pixel (5, 7) of map 0"]) - lab_pixels[5, 7].sum() / 255.0) < 1e-5  # identity, summed


def test_the_scripts_that_load_pictures_copy_the_labs_decoder(tmp_path):
    import inspect

    from lab import finetune, training
    from recipes import pictures

    decoder = inspect.getsource(pictures.picture_array)
    scripts = {
        "convolution": codegen.convolution_script(codegen.ImageChoice("mine.png"), ConvConfig(), (0, 0, 0)),
        "classifier": codegen.classifier_script(classify.ClassifierConfig(("ResNet50",), ("mine.png",))),
        "training": codegen.training_script(training.TrainConfig(dataset="folders", data_dir=str(tmp_path))),
        "fine-tune": codegen.finetune_script(finetune.FinetuneConfig(source="zip", data_dir=str(tmp_path))),
    }
    for script_name, script in scripts.items():
        source = script.python()
        assert decoder in source and "load_picture(" in source, script_name
        assert '.convert("RGB"))' not in source.replace('return image.convert("RGB")', ""), script_name


@pytest.mark.parametrize("task", ["localize", "crops", "grid"])
def test_the_detect_scripts_train_and_score_like_the_page(task, tmp_path):
    from lab import detect, runlog

    config = detect.for_task(task, train_canvases=150, test_canvases=20, epochs=2)
    result = detect.run(config, tmp_path / "run", runlog.RunLog(lambda rows: None))
    printed = run(codegen.detect_script(config), tmp_path)
    if task == "localize":
        assert float(printed["mean IoU of random boxes"]) == result["random_box_iou"]  # NumPy: to the digit
        assert abs(float(printed["mean test IoU"]) - result["mean_iou"]) <= 0.05  # float order on two processes
    elif task == "crops":
        assert float(printed["largest difference from the window loop"]) <= 1e-5
        assert abs(float(printed["test crop accuracy"]) - result["crop_accuracy"]) <= 0.1
    else:
        assert abs(float(printed["COCO AP50"]) - result["AP50"]) <= 0.05
        assert abs(float(printed["COCO mAP@[.5:.95]"]) - result["AP"]) <= 0.05
        assert (tmp_path / "results.json").exists()  # what the PR page reads, written by the script too


def test_the_detect_script_reads_the_annotated_pictures_the_page_prepared(tmp_path):
    import shutil

    from lab import annotated, detect, runlog
    from tests.test_annotated import coco_zip, scene

    files, boxes, labels = scene(20)
    folder, _ = annotated.stage(coco_zip(files, boxes, labels), 64, tmp_path / "uploads")
    config = detect.for_task("grid", data_dir=str(folder), epochs=2)
    result = detect.run(config, tmp_path / "run", runlog.RunLog(lambda rows: None))
    shutil.copy(folder / annotated.DATA_FILE, tmp_path / annotated.DATA_FILE)  # the page's download
    source = codegen.detect_script(config).python()
    assert str(folder) not in source and 'data_dir = "."' in source  # no server path in what is handed out
    printed = run(codegen.detect_script(config), tmp_path)
    assert abs(float(printed["COCO AP50"]) - result["AP50"]) <= 0.05
    assert "AP cat" in printed and "AP dog" in printed  # the learner's own classes


@pytest.mark.parametrize("layer_kind", ["Conv2D", "MaxPooling2D", "Dense"])
def test_the_inspect_script_gives_the_pages_neuron(layer_kind, tmp_path):
    import shutil

    from lab import inspect, runlog, training

    config = training.TrainConfig(epochs=1)
    model_dir = tmp_path / "run"
    training.run(config, model_dir, runlog.RunLog(lambda rows: None))
    model = runlog.load_model(model_dir)
    layers = inspect.layers(model, (8, 8, 1))
    layer = [name for name, kind, _ in layers if kind == layer_kind][-1]
    x_test = training.load_data(config).x_test
    view = inspect.neuron(model, (8, 8, 1), x_test[5], layer, 1, 1, 3)
    shutil.copy(model_dir / runlog.MODEL_FILE, tmp_path / "r1.keras")
    settings = inspect.InspectConfig(picture=5, layer=layer, row=1, col=1, channel=3)
    printed = run(codegen.inspect_script(config, settings, "r1"), tmp_path)
    if layer_kind == "Conv2D":
        assert abs(float(printed[f"{layer} (relu)"]) - view.value) <= 1e-5
        assert printed["receptive field rows"] == str(view.field[0])
    elif layer_kind == "MaxPooling2D":
        assert printed["the cell that won"] == str(view.winner)
    else:
        assert abs(float(printed["the model's own value"]) - view.value) <= 1e-5


def test_the_segment_script_trains_and_scores_like_the_page(tmp_path):
    from lab import runlog, segment

    config = segment.SegmentConfig(train_canvases=150, test_canvases=20, epochs=2, skips=False)
    result = segment.run(config, tmp_path / "run", runlog.RunLog(lambda rows: None))
    source = codegen.segment_script(config).python()
    assert "skips = False" in source and "Conv2DTranspose" in source
    printed = run(codegen.segment_script(config), tmp_path)
    assert int(printed["parameters"]) == result["parameters"]
    assert abs(float(printed["foreground IoU"]) - result["foreground_iou"]) <= 0.05  # float order on two processes
    assert abs(float(printed["mIoU"]) - result["miou"]) <= 0.05


@pytest.mark.parametrize(("name", "size"), [("googlenet", "paper"), ("resnet34", "32"), ("alexnet", "paper")])
def test_an_architecture_script_counts_like_the_page(name, size, tmp_path):
    """GoogLeNet's copies AlexNet's LRN layer from another module, ResNet-34's HOML's residual unit, AlexNet's
    paper size its two GPU groups: each prints the page's numbers."""
    from lab import zoo

    config = zoo.view_config(name, size, 16)
    counted = zoo.counted(config)
    printed = run(codegen.architecture_script(config), tmp_path)
    for label in ("parameters", "multiply-adds", "depth", "receptive field"):
        assert int(printed[label]) == counted[label], label
    assert int(printed["training activations (bytes)"]) == 4 * 16 * counted["activations per image"]


def test_an_architecture_script_trains_its_scaled_down_version_like_the_comparison(tmp_path):
    from lab import runlog, zoo

    compare = zoo.CompareConfig(names=("lenet5",), epochs=2)
    result = zoo.run(compare, tmp_path / "run", runlog.RunLog(lambda rows: None))["architectures"]["lenet5"]
    printed = run(codegen.architecture_script(zoo.script_config("lenet5", "32", 32, compare)), tmp_path)
    assert int(printed["scaled-down parameters"]) == result["parameters"]
    assert abs(float(printed["test accuracy"]) - result["test_accuracy"]) <= 0.05
