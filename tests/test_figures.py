"""lab.figures: what the browser is sent stays small, and the plots name and scale what they show."""

from __future__ import annotations

import re

import numpy as np
import plotly.graph_objects as go

from lab import figures, padding
from lab.classify import Prediction


def test_feature_maps_are_images_not_hundreds_of_thousands_of_json_numbers(rng):
    image = rng.random((427, 640, 3)).astype(np.float32)
    maps = rng.normal(size=(427, 640, 2)).astype(np.float32)
    figure = figures.feature_maps_figure(image, maps, ["a", "b"], pixel=(10, 20))
    kinds = [trace.type for trace in figure.data]
    assert kinds.count("image") == 3 and "heatmap" not in kinds
    assert len(figure.to_json()) < 400_000  # JPEGs of 480 px: it was ~1.5 MB of heatmap JSON
    bars = [trace for trace in figure.data if trace.type == "scatter" and trace.marker.showscale]
    assert len(bars) == 1  # one shared colour bar, not one per map on top of each other


def test_unshared_maps_say_their_own_ranges():
    maps = np.stack([np.zeros((8, 8)), np.ones((8, 8)) * 5], axis=-1)
    figure = figures.feature_maps_figure(np.zeros((8, 8, 1)), maps, ["a", "b"], shared_scale=False)
    titles = [annotation.text for annotation in figure.layout.annotations]
    assert "b [5, 5]" in titles


def test_the_confusion_matrix_names_every_class_even_numeric_ones():
    counts = np.eye(10, dtype=int) * 5
    figure = figures.confusion_figure(counts, [str(d) for d in range(10)])
    assert figure.layout.xaxis.type == "category" and list(figure.layout.xaxis.tickvals) == [str(d) for d in range(10)]
    assert figure.layout.yaxis.type == "category"


def test_top_k_names_every_class_and_grad_cam_has_its_scale():
    bars = figures.topk_figure([Prediction("7", 7, 0.6), Prediction("1", 1, 0.3)])
    assert bars.layout.yaxis.type == "category"
    cam = figures.overlay_figure_cam(np.zeros((8, 8, 3)), np.linspace(0, 1, 64).reshape(8, 8))
    heat = next(trace for trace in cam.data if trace.type == "heatmap")
    assert (heat.zmin, heat.zmax) == (0, 1) and heat.showscale is not False


def test_the_padding_diagram_marks_the_chosen_window_and_the_dropped_cells():
    plan = padding.plan_axis(8, 3, 2, "valid")  # 3 outputs, 1 dropped cell
    figure = figures.axis_diagram(plan, chosen=1)
    assert "1 dropped" in figure.layout.title.text
    widths = [trace.line.width for trace in figure.data]
    assert widths == [1, 3, 1]
    dotted = [shape for shape in figure.layout.shapes if shape.line.dash == "dot"]
    assert len(dotted) == plan.dropped


def test_subplots_are_laid_out_as_plotly_lays_them_out():
    from plotly.subplots import make_subplots

    for titles in (["input"], ["input", "map 0"], ["input", "a", "b", "c"]):
        expected = make_subplots(rows=1, cols=len(titles), subplot_titles=titles, horizontal_spacing=0.03)
        ours = go.Figure(layout=figures._subplot_row(titles))
        assert _rounded(ours.layout.to_plotly_json()) == _rounded(expected.layout.to_plotly_json())
    for rows, cols in ((1, 1), (2, 8), (4, 8), (3, 5)):  # the filters' grid
        expected = make_subplots(rows=rows, cols=cols, horizontal_spacing=0.01, vertical_spacing=0.02)
        ours = go.Figure(layout=figures._subplot_grid(rows, cols, 0.01, 0.02))
        assert _rounded(ours.layout.to_plotly_json()) == _rounded(expected.layout.to_plotly_json())


def _rounded(value):
    """Floats to 9 places, inside dicts and lists (the domains differ in the last bit)."""
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_rounded(item) for item in value]
    return round(value, 9) if isinstance(value, float) else value


def test_training_curves_put_each_curve_and_marker_on_its_plot_and_patch_in_place():
    curves = {
        "loss": ([1, 2], [0.5, 0.4]),
        "batch_loss": ([0.5, 1.0, 1.5], [0.9, 0.6, 0.5]),
        "val_accuracy": ([1, 2], [0.7, 0.8]),
        "marker:unfreeze_epoch": ([1.5], [None]),
    }
    figure = figures.training_curves(curves, "run")
    axes = {trace.meta: trace.xaxis for trace in figure.data}
    assert axes == {"batch_loss": "x", "loss": "x", "val_accuracy": "x2"}
    assert [(shape.xref, shape.x0) for shape in figure.layout.shapes] == [("x", 1.5), ("x2", 1.5)]
    assert [a.text for a in figure.layout.annotations] == ["loss", "accuracy"]
    assert figure.layout.xaxis2.title.text == "epoch" and figure.layout.title.text == "run"
    grown = {**curves, "loss": ([1, 2, 3], [0.5, 0.4, 0.35])}
    assert figures.patch_training_curves(figure, grown)
    assert list(figure.data[1].y) == [0.5, 0.4, 0.35]
    assert not figures.patch_training_curves(figure, {**grown, "val_loss": ([1], [0.6])})  # a new curve: rebuild
    only_loss = figures.training_curves({"loss": ([1], [0.5]), "marker:unfreeze_epoch": ([1.0], [None])})
    assert [shape.xref for shape in only_loss.layout.shapes] == ["x"]  # no marker on an empty plot


def test_the_probability_chart_names_every_class_and_the_true_one_in_words():
    names = [str(i) for i in range(10)]
    figure = figures.probabilities_figure(np.full(10, 0.1), names, true_index=3)
    assert list(figure.layout.xaxis.tickvals) == names  # "labels every other class" was Plotly's auto ticks
    assert figure.data[0].text[3].endswith("(true)") and "(true)" not in figure.data[0].text[2]


def test_small_activation_maps_fill_their_panels():
    maps = np.random.default_rng(0).random((8, 8, 6)).astype(np.float32)
    figure = figures.feature_maps_figure(np.zeros((8, 8, 1), np.float32), maps, [f"m[{i}]" for i in range(6)])
    for suffix in ("", "2", "7"):
        assert list(figure.layout[f"xaxis{suffix}"].range) == [-0.5, 7.5]
        assert list(figure.layout[f"yaxis{suffix}"].range) == [7.5, -0.5]
    assert figure.layout.height <= 220  # 7 square panels in a row: not a 360 px tall figure of small squares


def test_the_channel_legend_sits_above_the_bars():
    figure = figures.channel_bars_figure({"global average": [0.1, 0.2, 0.3]}, ["R", "G", "B"])
    assert figure.layout.legend.y >= 1 and figure.layout.legend.yanchor == "bottom"


def test_the_example_detections_are_drawn_matched_or_not():
    from lab import annotations, detection

    gt, det = annotations.to_tables(annotations.from_tables(*detection.example_detections()))
    result = detection.evaluate_detections(gt, det, 0.5, "all")
    figure = figures.detections_figure(gt, det, result.true_positive, {})
    shapes = figure.layout.shapes
    assert len(shapes) == len(gt) + len(det)
    dashed = [shape for shape in shapes if shape.line.dash == "dash"]
    assert len(dashed) == len(det) and {shape.label.text.split()[0] for shape in dashed} == {"TP", "FP"}
    assert sum(shape.label.text.startswith("TP") for shape in dashed) == int(result.true_positive.sum())


def test_a_long_axis_writes_at_most_sixteen_numbers():
    """At 400 px the numbers of a 40-cell axis overlapped: every k-th cell is numbered instead."""
    plan = padding.plan_axis(40, 3, 1, "same")
    figure = figures.axis_diagram(plan)
    numbers = [annotation.text for annotation in figure.layout.annotations]
    assert 0 < len(numbers) <= 16 and "0" in numbers
    short = figures.axis_diagram(padding.plan_axis(7, 3, 2, "same"))
    assert [a.text for a in short.layout.annotations] == ["pad", *map(str, range(7)), "pad"][
        : len(short.layout.annotations)
    ]


def test_no_figure_uses_a_rainbow_colormap():
    """Jet (the Grad-CAM overlay's) is neither perceptually uniform nor readable with colour-vision deficiency."""
    import inspect

    source = inspect.getsource(figures)
    assert not re.search(r"""colorscale\s*=\s*["'](Jet|Rainbow|Hsv|Portland|Picnic)["']""", source, re.IGNORECASE)
    cam = figures.overlay_figure_cam(np.zeros((4, 4, 3)), np.zeros((4, 4)))
    assert cam.data[1].colorscale[0][1] == "#000004"  # Inferno starts at black


def test_series_are_told_apart_by_more_than_colour():
    curves = {"loss": ([1, 2], [1.0, 0.5]), "val_loss": ([1, 2], [1.1, 0.7])}
    train, valid = figures.training_curves(curves).data
    assert (train.line.dash or "solid") != valid.line.dash and train.marker.symbol != valid.marker.symbol
    runs = figures.overlay_figure({"a": ([1], [0.5]), "b": ([1], [0.6]), "c": ([1], [0.7])}, "validation accuracy")
    assert len({trace.line.dash for trace in runs.data}) == 3 and len({trace.marker.symbol for trace in runs.data}) == 3
    bars = figures.probabilities_figure([0.2, 0.8], ["cat", "dog"], true_index=0).data[0]
    assert (
        list(bars.marker.pattern.shape) == ["/", ""] and "(true)" in bars.text[0]
    )  # hatched and named, not only green
