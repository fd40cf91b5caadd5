"""Plotly figures shared by the pages. Pure Plotly/NumPy: no streamlit, no TensorFlow."""

from __future__ import annotations

import functools

import plotly.graph_objects as go

from lab.padding import AxisPlan

INPUT_COLOR, PAD_COLOR, WINDOW_COLOR = "#9ecae1", "#fdae6b", "#3182bd"
CHOSEN_COLOR, DROPPED_COLOR = "#e6550d", "#d9d9d9"


def axis_diagram(
    plan: AxisPlan, axis_name: str = "height", max_cells: int = 64, max_outputs: int = 16, chosen: int | None = None
) -> go.Figure:
    """One axis: input cells, pad cells before/after, dropped cells, and the cells each output reads.

    The ``chosen`` output's window is drawn bold in orange; trailing cells no window reaches (VALID
    drops them) are grey, outlined in dots. Long axes are cut at ``max_cells`` padded cells and
    ``max_outputs`` windows (the title says so): the picture is for intuition; the numbers beside
    it are exact.
    """
    cells = min(plan.padded_size, max_cells)
    shapes, annotations, traces = [], [], []
    first_dropped = plan.padded_size - plan.dropped
    every = max(1, -(-cells // 16))  # at most 16 numbers: at a phone's 390 px they stay apart
    for cell in range(cells):
        is_pad = cell < plan.pad_before or cell >= plan.pad_before + plan.input_size
        label = "pad" if is_pad else str(cell - plan.pad_before)
        dropped = cell >= first_dropped
        box = {"type": "rect", "x0": cell + 0.05, "x1": cell + 0.95, "y0": 0.1, "y1": 0.9}
        box["line"] = {"width": 1.5, "dash": "dot", "color": "#737373"} if dropped else {"width": 0}
        box["fillcolor"] = DROPPED_COLOR if dropped else PAD_COLOR if is_pad else INPUT_COLOR
        shapes.append(box)
        if every == 1 or (not is_pad and (cell - plan.pad_before) % every == 0):  # input 0, k, 2k, ...
            annotations.append({"x": cell + 0.5, "y": 0.5, "text": label, "showarrow": False, "font": {"size": 10}})
    shown = 0
    for index in range(min(plan.output_size, max_outputs)):
        taps = [tap for tap in plan.window(index) if tap < cells]
        if not taps:
            break
        y = -(index + 1) * 0.8
        color, width = (CHOSEN_COLOR, 3) if index == chosen else (WINDOW_COLOR, 1)
        marker = {"symbol": "square", "size": 12 if index == chosen else 9, "color": color}
        window = {"type": "scatter", "x": [tap + 0.5 for tap in taps], "y": [y] * len(taps), "marker": marker}
        window.update(mode="lines+markers", line={"color": color, "width": width}, name=f"output {index}")
        window["hovertemplate"] = f"output {index} reads padded cell %{{x:.0f}}<extra></extra>"
        traces.append(window)
        shown += 1
    cut = []
    if plan.padded_size > cells:
        cut.append(f"first {cells} of {plan.padded_size} cells")
    if plan.output_size > shown:
        cut.append(f"first {shown} of {plan.output_size} outputs")
    title = f"{axis_name.capitalize()}: {plan.pad_before} pad + {plan.input_size} input + {plan.pad_after} pad"
    if plan.dropped:
        title += f", {plan.dropped} dropped"
    layout = {
        "title": {"text": title + (f" ({'; '.join(cut)})" if cut else "")},
        "showlegend": False,
        "height": 140 + 28 * shown,
        "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
        "xaxis": {"range": [0, cells], "showgrid": False, "zeroline": False, "title": {"text": "padded coordinate"}},
        "yaxis": {"visible": False, "range": [-(shown + 0.5) * 0.8, 1]},
        "plot_bgcolor": "white",
        "shapes": shapes,
        "annotations": annotations,
    }
    return go.Figure(traces, layout)  # one dict: a shape at a time took ~250 ms for 64 cells


def pr_figure(recall, precision, operating=None, title: str = "Precision-recall curve") -> go.Figure:
    """Precision, its max-precision envelope (shaded: the all-point AP), the 11 VOC samples."""
    import numpy as np

    from lab import pr

    best = pr.envelope(precision)
    levels = np.linspace(0, 1, 11)
    samples = pr.interpolated_precision(recall, precision, levels)
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=np.concatenate(([0.0], recall)),
            y=np.concatenate(([best[0]], best)),
            line_shape="vh",
            fill="tozeroy",
            fillcolor="rgba(49,130,189,0.15)",
            line={"color": WINDOW_COLOR, "dash": "dash"},
            name="envelope (area = all-point AP)",
        )
    )
    figure.add_trace(
        go.Scatter(
            x=recall,
            y=precision,
            mode="lines+markers" if len(recall) <= 60 else "lines",
            line={"color": "#e6550d"},
            name="precision",
        )
    )
    figure.add_trace(
        go.Scatter(
            x=levels,
            y=samples,
            mode="markers",
            marker={"symbol": "diamond", "size": 9, "color": "black"},
            name="11-point samples",
        )
    )
    if operating is not None:
        figure.add_trace(
            go.Scatter(
                x=[operating.recall],
                y=[operating.precision],
                mode="markers",
                name="threshold",
                marker={"size": 14, "color": "#31a354", "line": {"width": 2, "color": "white"}},
            )
        )
    figure.update_layout(
        title=title,
        xaxis={"title": "recall", "range": [0, 1.02]},
        yaxis={"title": "precision", "range": [0, 1.05]},
        height=420,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        legend={"orientation": "h", "y": -0.2},
    )
    return figure


def boxes_figure(box_a, box_b) -> go.Figure:
    """Two (x_min, y_min, x_max, y_max) boxes and their overlap, in image coordinates (y down)."""
    figure = go.Figure()
    for box, color, name in ((box_a, "#3182bd", "A"), (box_b, "#e6550d", "B")):
        figure.add_shape(
            type="rect",
            x0=box[0],
            y0=box[1],
            x1=box[2],
            y1=box[3],
            line={"color": color, "width": 2},
            fillcolor=color,
            opacity=0.15,
            label={"text": name},
        )
    x0, y0 = max(box_a[0], box_b[0]), max(box_a[1], box_b[1])
    x1, y1 = min(box_a[2], box_b[2]), min(box_a[3], box_b[3])
    if x1 > x0 and y1 > y0:
        figure.add_shape(type="rect", x0=x0, y0=y0, x1=x1, y1=y1, line_width=0, fillcolor="#31a354", opacity=0.5)
    low = min(box_a[0], box_b[0], box_a[1], box_b[1]) - 5
    high = max(box_a[2], box_b[2], box_a[3], box_b[3]) + 5
    figure.update_layout(  # as wide as tall: a square plot, not a square in a wide empty one
        xaxis={"range": [low, high], "constrain": "domain"},
        yaxis={"range": [high, low], "scaleanchor": "x"},
        height=340,
        width=380,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
    )
    return figure


def detections_figure(ground_truth, detections, true_positive, sizes: dict, limit: int = 6) -> go.Figure:
    """The boxes on each image: ground truth (green, solid, labelled) and detections (dashed, "TP" or
    "FP" with the score written beside: told apart by line style and text, not by colour alone).

    Args:
        ground_truth, detections: Box tables (``image_id, label, x_min, y_min, x_max, y_max``, + score).
        true_positive: Per detection row, the VOC verdict at the page's IoU threshold.
        sizes: {image id: (width, height)} of each canvas.
    """
    images = sorted(set(ground_truth["image_id"]) | set(detections["image_id"]))[:limit]
    layout = _subplot_row([str(image) for image in images], spacing=0.04)
    traces, shapes = [], []
    for index, image in enumerate(images):
        x, y = f"x{_suffix(index)}", f"y{_suffix(index)}"
        mine = ground_truth[ground_truth["image_id"] == image]
        found = detections[detections["image_id"] == image]
        verdicts = [bool(v) for v in true_positive[(detections["image_id"] == image).to_numpy()]]
        for row in mine.itertuples(index=False):
            shapes.append(_box(row, x, y, "#1b7837", "solid", f"{row.label}"))
        for row, hit in zip(found.itertuples(index=False), verdicts, strict=True):
            color = "#2166ac" if hit else "#b2182b"
            shapes.append(_box(row, x, y, color, "dash", f"{'TP' if hit else 'FP'} {row.label} {row.score:.2f}"))
        width, height = sizes.get(image, (200, 160))
        traces.append(_on({"type": "scatter", "x": [None], "y": [None], "showlegend": False}, index))
        layout[f"xaxis{_suffix(index)}"].update(range=[0, width], showgrid=False, constrain="domain")
        layout[f"yaxis{_suffix(index)}"].update(range=[height, 0], scaleanchor=x, showgrid=False)
    layout.update(shapes=shapes, height=300, margin={"l": 10, "r": 10, "t": 30, "b": 10}, showlegend=False)
    return go.Figure(traces, layout)


def _box(row, x: str, y: str, color: str, dash: str, text: str) -> dict:
    label = {"text": text, "textposition": "top left", "font": {"size": 10, "color": color}}
    return {
        "type": "rect",
        "xref": x,
        "yref": y,
        "x0": row.x_min,
        "y0": row.y_min,
        "x1": row.x_max,
        "y1": row.y_max,
        "line": {"color": color, "width": 2, "dash": dash},
        "label": label,
    }


MAX_HEATMAP_CELLS = 20_000  # per map: larger maps are subsampled (the browser draws ~20k cells in a blink)


@functools.lru_cache(maxsize=8)
def _lookup_table(colorscale: str):
    """256 RGB colours of a Plotly colour scale, for turning values into an image."""
    import numpy as np
    from plotly.colors import get_colorscale, sample_colorscale

    colours = sample_colorscale(get_colorscale(colorscale), list(np.linspace(0, 1, 256)))
    return np.array([[float(v) for v in c[c.index("(") + 1 : -1].split(",")] for c in colours]).astype(np.uint8)


def map_source(values, low: float, high: float, colorscale: str = "Viridis") -> str:
    """A feature map as a colour-mapped JPEG data URI (exact values: the pixel inspector's job).

    A browser draws an image in a blink; a 427x640 heatmap of JSON numbers took it most of a second.
    """
    import numpy as np

    span = (high - low) or 1.0
    index = np.clip(np.rint((np.asarray(values, dtype=np.float64) - low) / span * 255), 0, 255).astype(np.uint8)
    return image_source(_lookup_table(colorscale)[index])


def image_source(pixels) -> str:
    """An RGB image as a JPEG data URI for ``go.Image(source=...)``: ~30 KB instead of a JSON array of
    every pixel (a 427x640 photo is 820k numbers), which the browser would parse and draw."""
    import base64
    import io

    import numpy as np
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(pixels, dtype=np.uint8)).save(buffer, "JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def _subsample(array, limit: int = MAX_HEATMAP_CELLS):
    import math

    step = max(1, math.ceil(math.sqrt(array.shape[0] * array.shape[1] / limit)))
    return array[::step, ::step], step


def _suffix(index: int) -> str:
    """Plotly's axis name suffix of subplot ``index`` (0-based): "", "2", "3", ..."""
    return str(index + 1) if index else ""


def _subplot_grid(rows: int, cols: int, spacing: float, vertical_spacing: float = 0.0, titles=None) -> dict:
    """The layout of a grid of subplots, as ``make_subplots`` writes it, as one dict: its
    property-by-property updates cost more than the figure's data on a page that reruns. Subplot
    ``index`` (0-based, row by row from the top) has axes ``x{index + 1}``/``y{index + 1}``."""
    width = (1 - spacing * (cols - 1)) / cols
    height = (1 - vertical_spacing * (rows - 1)) / rows
    layout: dict = {}
    for index in range(rows * cols):
        row, col = divmod(index, cols)
        suffix = _suffix(index)
        left, top = col * (width + spacing), 1 - row * (height + vertical_spacing)
        layout[f"xaxis{suffix}"] = {"anchor": f"y{suffix}", "domain": [left, left + width]}
        layout[f"yaxis{suffix}"] = {"anchor": f"x{suffix}", "domain": [max(0.0, top - height), top]}
    if titles:
        layout["annotations"] = []
        for index, title in enumerate(titles):
            domain = layout[f"xaxis{_suffix(index)}"]["domain"]
            annotation = {"text": title, "x": sum(domain) / 2, "y": 1.0, "xref": "paper", "yref": "paper"}
            annotation.update(xanchor="center", yanchor="bottom", showarrow=False, font={"size": 16})
            layout["annotations"].append(annotation)
    return layout


def _subplot_row(titles: list[str], spacing: float = 0.03) -> dict:
    """One row of titled subplots (:func:`_subplot_grid`)."""
    return _subplot_grid(1, len(titles), spacing, titles=titles)


def _on(trace: dict, index: int) -> dict:
    """``trace`` placed on subplot ``index`` (0-based) of :func:`_subplot_row`."""
    return {**trace, "xaxis": f"x{_suffix(index)}", "yaxis": f"y{_suffix(index)}"}


def feature_maps_figure(image, maps, titles, shared_scale: bool = True, pixel=None, taps=None) -> go.Figure:
    """The input next to every feature map (heatmaps with exact hover values).

    Args:
        image: (H, W, 1 or 3) float image in [0, 1].
        maps: (H', W', n) feature maps.
        titles: One title per map.
        shared_scale: One colour scale for all maps (compare strengths) or one per map.
        pixel: Optional (row, col) output pixel to mark on every map.
        taps: Optional (rows, cols) input coordinates it reads, outlined on the input.
    """
    import numpy as np

    count = maps.shape[2]
    layout = _subplot_row(["input", *titles])
    shown, step = _subsample(image)
    rows, cols = np.arange(0, image.shape[0], step), np.arange(0, image.shape[1], step)
    if image.shape[2] == 3:
        side = max(1, -(-max(image.shape[:2]) // 480))  # at most 480 px on the long side: its width on screen
        pixels = (np.clip(image[::side, ::side], 0, 1) * 255).astype(np.uint8)
        traces = [_on({"type": "image", "source": image_source(pixels), "x0": 0, "dx": side, "y0": 0, "dy": side}, 0)]
    else:
        gray = {"type": "heatmap", "z": shown[..., 0], "x": cols, "y": rows, "colorscale": "gray", "showscale": False}
        traces = [_on(gray, 0)]
    low, high = float(maps.min()), float(maps.max())
    colorscale = "RdBu_r" if low < 0 < high else "Viridis"
    side = max(1, -(-max(maps.shape[:2]) // 480))
    for index in range(count):
        values = maps[::side, ::side, index]
        lo, hi = (low, high) if shared_scale else (float(values.min()), float(values.max()))
        source = map_source(values, lo, hi, colorscale)
        image_trace = {"type": "image", "source": source, "x0": 0, "dx": side, "y0": 0, "dy": side, "hoverinfo": "skip"}
        traces.append(_on(image_trace, index + 1))
        if not shared_scale:
            layout["annotations"][index + 1]["text"] = f"{titles[index]} [{lo:.3g}, {hi:.3g}]"
        if pixel is not None:
            marker = {"symbol": "x", "size": 12, "color": "magenta"}
            cross = {"type": "scatter", "x": [pixel[1]], "y": [pixel[0]], "mode": "markers", "showlegend": False}
            traces.append(_on({**cross, "marker": marker}, index + 1))
    if shared_scale:  # one colour bar for every map: a marker-less trace that carries the scale
        bar = {"colorscale": colorscale, "cmin": low, "cmax": high, "color": [low], "showscale": True, "size": 0.1}
        bar["colorbar"] = {"thickness": 12, "len": 0.9}
        scale = {"type": "scatter", "x": [None], "y": [None], "mode": "markers", "marker": bar, "hoverinfo": "skip"}
        traces.append(_on(scale, count))
    if taps is not None:
        tap_rows, tap_cols = taps
        box = {"type": "rect", "x0": tap_cols.min() - 0.5, "x1": tap_cols.max() + 0.5, "xref": "x", "yref": "y"}
        box.update(y0=tap_rows.min() - 0.5, y1=tap_rows.max() + 0.5, line={"color": "magenta", "width": 2})
        layout["shapes"] = [box]
    for index, (height, width) in enumerate([image.shape[:2]] + [maps.shape[:2]] * count):
        # The data's own extent (an 8x8 map sat in empty axis range) and square pixels.
        layout[f"xaxis{_suffix(index)}"].update(range=[-0.5, width - 0.5], constrain="domain")
        layout[f"yaxis{_suffix(index)}"].update(range=[height - 0.5, -0.5], scaleanchor=f"x{_suffix(index)}")
    for annotation in layout["annotations"]:
        annotation["font"] = {"size": 11}  # many maps in a row: titles that fit their panel
    panel = 1100 / (count + 1)  # each panel's width on a wide screen, in px
    tall = max(maps.shape[0] / maps.shape[1], image.shape[0] / image.shape[1])
    layout.update(height=int(min(360, max(150, panel * tall + 50))), showlegend=False)
    layout["margin"] = {"l": 10, "r": 10, "t": 30, "b": 10}
    return go.Figure(traces, layout)


def grid_figure(
    values, title: str = "", highlight=None, text_format: str = ".2f", colorscale: str = "Blues"
) -> go.Figure:
    """A small matrix with its numbers written in the cells; ``highlight`` marks (row, col) cells."""
    import numpy as np

    values = np.asarray(values, dtype=float)
    heatmap = {
        "type": "heatmap",
        "z": values,
        "text": [[format(v, text_format) for v in row] for row in values],
        "texttemplate": "%{text}",
        "colorscale": colorscale,
        "showscale": False,
        "zmid": 0 if colorscale == "RdBu" else None,
    }
    line = {"color": "#e6550d", "width": 3}
    shapes = [
        {"type": "rect", "x0": col - 0.5, "x1": col + 0.5, "y0": row - 0.5, "y1": row + 0.5, "line": line}
        for row, col in highlight or []
    ]
    size = max(values.shape)
    layout = {
        "title": {"text": title},
        "height": max(180, 32 * size + 60),
        "margin": {"l": 10, "r": 10, "t": 30 if title else 5, "b": 5},
        "yaxis": {"autorange": "reversed", "showticklabels": size <= 12},
        "xaxis": {"showticklabels": size <= 12},
        "shapes": shapes,
    }
    return go.Figure([heatmap], layout)


def channel_bars_figure(series: dict[str, list[float]], channels: list[str]) -> go.Figure:
    """Grouped bars, one group per channel, in channel order (R, G, B)."""
    figure = go.Figure([go.Bar(name=name, x=channels, y=list(values)) for name, values in series.items()])
    figure.update_layout(  # the legend above the plot: below it, it covered the R, G, B labels
        barmode="group",
        height=280,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        legend={"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
    )
    return figure


_CURVE_STYLES = {  # name: (subplot, label, line, mode)
    "batch_loss": (0, "batch loss", {"color": "#c6dbef", "width": 1}, "lines"),
    "loss": (0, "train loss", {"color": "#3182bd"}, "lines+markers"),
    "val_loss": (0, "validation loss", {"color": "#e6550d", "dash": "dash"}, "lines+markers"),
    "batch_accuracy": (1, "batch accuracy", {"color": "#c6dbef", "width": 1}, "lines"),
    "accuracy": (1, "train accuracy", {"color": "#3182bd"}, "lines+markers"),
    "val_accuracy": (1, "validation accuracy", {"color": "#e6550d", "dash": "dash"}, "lines+markers"),
}
_TERM_COLORS = {"objectness": "#b35806", "box": "#1b7837", "class": "#762a83"}  # a multi-output model's terms
for _term, _color in _TERM_COLORS.items():  # its loss terms beside the total; its class head's accuracy
    _CURVE_STYLES[f"{_term}_loss"] = (0, f"{_term} loss", {"color": _color, "dash": "dot"}, "lines+markers")
    _CURVE_STYLES[f"val_{_term}_loss"] = (
        0,
        f"validation {_term} loss",
        {"color": _color, "dash": "dash"},
        "lines+markers",
    )
_CURVE_STYLES["mean_iou"] = (1, "train mIoU", {"color": "#6a51a3", "dash": "dot"}, "lines+markers")  # segmentation
_CURVE_STYLES["val_mean_iou"] = (1, "validation mIoU", {"color": "#b35806", "dash": "dashdot"}, "lines+markers")
_CURVE_STYLES["class_accuracy"] = (1, "train accuracy", {"color": "#3182bd"}, "lines+markers")
_CURVE_STYLES["val_class_accuracy"] = (1, "validation accuracy", {"color": "#e6550d", "dash": "dash"}, "lines+markers")
_CURVE_NAMES = set(_CURVE_STYLES)


def training_curves(curves: dict, title: str = "") -> go.Figure:
    """Loss (batch and epoch, train and validation, and a multi-output model's terms) and accuracy against epochs."""
    styles = _CURVE_STYLES
    accuracy = any(styles[name][0] == 1 for name in curves if name in styles)  # a detector has none: loss alone
    scores = "accuracy and mIoU" if "mean_iou" in curves else "accuracy"
    layout = _subplot_row(["loss", scores] if accuracy else ["loss"], spacing=0.1)  # make_subplots' spacing
    traces = []
    for name, (index, label, line, mode) in styles.items():
        if name in curves:
            xs, ys = curves[name]
            scatter = {"type": "scatter", "x": xs, "y": ys, "name": label, "line": line, "mode": mode, "meta": name}
            scatter["marker"] = {"symbol": "diamond" if name.startswith("val_") else "circle"}  # not colour alone
            traces.append(_on(scatter, index))
    shapes, drawn = [], {trace["xaxis"][1:] for trace in traces}  # markers go on plots with curves
    for name, (xs, _) in curves.items():
        if name.startswith("marker:"):  # vertical markers, e.g. the unfreeze point of a fine-tune
            for x in xs:
                for suffix in sorted(drawn):
                    line = {"type": "line", "x0": x, "x1": x, "xref": f"x{suffix}", "y0": 0, "y1": 1}
                    line.update(yref=f"y{suffix} domain", line={"dash": "dot", "color": "gray"})
                    shapes.append(line)
    for axis in ("xaxis", "xaxis2") if accuracy else ("xaxis",):
        layout[axis]["title"] = {"text": "epoch"}
    layout.update(title={"text": title}, height=340, margin={"l": 10, "r": 10, "t": 40, "b": 10}, shapes=shapes)
    layout["legend"] = {"orientation": "h", "y": -0.25}
    return go.Figure(traces, layout)  # one dict: ~4x faster than make_subplots and its updates


def patch_training_curves(figure: go.Figure, curves: dict) -> bool:
    """Put new points into a :func:`training_curves` figure in place (a live poll's few ms, where
    building it again takes ~40 ms). False, and nothing changed, when the figure has other
    curves or markers than ``curves``: then build a new one."""
    drawn = {trace.meta: trace for trace in figure.data}
    markers = sorted(x for name, (xs, _) in curves.items() if name.startswith("marker:") for x in xs)
    drawn_markers = sorted(shape.x0 for shape in figure.layout.shapes if shape.xref == "x")
    if set(drawn) != set(curves) & _CURVE_NAMES or markers != drawn_markers:
        return False
    with figure.batch_update():
        for name, trace in drawn.items():
            xs, ys = curves[name]
            trace.x, trace.y = list(xs), list(ys)
    return True


def confusion_figure(counts, class_names, shares: bool = False) -> go.Figure:
    """Confusion matrix (rows: true class, columns: predicted) with counts in the cells; with ``shares``,
    each row as shares of its true class (a segmentation's background pixels would outshine every digit)."""
    import numpy as np

    counts = np.asarray(counts)
    z = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1) if shares else counts
    cell = "%{customdata:,} pixels, %{z:.1%} of the true class" if shares else "%{z}"
    figure = go.Figure(
        go.Heatmap(
            z=z,
            x=[str(name) for name in class_names],
            y=[str(name) for name in class_names],
            colorscale="Blues",
            customdata=counts if shares else None,
            texttemplate="%{z:.0%}" if shares else "%{z}",
            hovertemplate=f"true %{{y}}, predicted %{{x}}: {cell}<extra></extra>",
        )
    )
    names = [str(name) for name in class_names]
    every = {"type": "category", "tickmode": "array", "tickvals": names, "ticktext": names, "automargin": True}
    figure.update_layout(
        xaxis={"title": "predicted", **every},  # category axes: "0".."9" stay labels, every one shown
        yaxis={"title": "true", "autorange": "reversed", **every},
        height=420,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
    )
    return figure


def filters_figure(kernels, limit: int = 32) -> go.Figure:
    """First-layer filters as small tiles: positive red, negative blue (channel-summed).

    Args:
        kernels: (kh, kw, C, n) weights.
        limit: Show at most this many filters.
    """
    import math

    import numpy as np

    maps = np.asarray(kernels).sum(axis=2)[..., :limit]
    count = maps.shape[-1]
    columns = min(8, count)
    rows = math.ceil(count / columns)
    layout = _subplot_grid(rows, columns, 0.01, 0.02)
    for name, axis in layout.items():
        axis.update(showticklabels=False, **({"autorange": "reversed"} if name.startswith("yaxis") else {}))
    bound = float(np.abs(maps).max()) or 1.0
    tile = {"type": "heatmap", "colorscale": "RdBu_r", "zmin": -bound, "zmax": bound, "showscale": False}
    traces = [_on({**tile, "z": maps[..., index]}, index) for index in range(count)]
    layout.update(height=90 * rows + 20, margin={"l": 5, "r": 5, "t": 5, "b": 5})
    return go.Figure(traces, layout)


def probabilities_figure(probabilities, class_names, true_index: int | None = None) -> go.Figure:
    """One bar per class, every class named under its bar; the true class marked in words too."""
    names = [str(name) for name in class_names]
    colors = ["#31a354" if i == true_index else "#3182bd" for i in range(len(names))]
    patterns = ["/" if i == true_index else "" for i in range(len(names))]  # the true class hatched, not only green
    text = [f"{p:.0%}" + (" (true)" if i == true_index else "") for i, p in enumerate(probabilities)]
    bars = {"type": "bar", "x": names, "y": list(map(float, probabilities))}
    bars.update(
        marker={"color": colors, "pattern": {"shape": patterns}}, text=text, textposition="outside", cliponaxis=False
    )
    layout = {
        "yaxis": {"range": [0, 1.15], "title": {"text": "probability"}, "tickformat": ".0%"},
        "xaxis": {"type": "category", "tickmode": "array", "tickvals": names, "ticktext": names},  # no label skipped
        "height": 280,
        "margin": {"l": 10, "r": 10, "t": 20, "b": 10},
    }
    return go.Figure([bars], layout)


def overlay_figure(curves: dict, title: str) -> go.Figure:
    """Several runs' curves on one axis (for comparing runs)."""
    dashes, symbols = (
        ("solid", "dash", "dot", "dashdot", "longdash"),
        ("circle", "diamond", "square", "triangle-up", "x"),
    )
    figure = go.Figure(
        [
            go.Scatter(
                x=xs, y=ys, name=name, mode="lines+markers", line_dash=dashes[i % 5], marker_symbol=symbols[i % 5]
            )
            for i, (name, (xs, ys)) in enumerate(curves.items())
        ]
    )  # each run told apart by its line and marker as well as its colour
    figure.update_layout(title=title, xaxis_title="epoch", height=300, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return figure


def log_bars_figure(labels: list[str], values: list[float], texts: list[str], title: str) -> go.Figure:
    """One horizontal bar per item on a log scale (values that span five orders of magnitude), each with its
    value written beside it."""
    bars = {"type": "bar", "x": list(values), "y": list(labels), "orientation": "h", "text": list(texts)}
    bars.update(textposition="outside", cliponaxis=False, marker={"color": "#35608d"}, name=title)
    layout = {
        "title": {"text": title},
        "xaxis": {"type": "log", "title": {"text": f"{title} (log scale)"}},
        "yaxis": {"type": "category", "autorange": "reversed", "automargin": True},
        "height": 80 + 32 * len(labels),
        "margin": {"l": 10, "r": 60, "t": 40, "b": 10},
    }
    return go.Figure([bars], layout)


def topk_figure(predictions, title: str = "") -> go.Figure:
    """Horizontal bars of the top-k classes, best on top."""
    labels = [p.label for p in predictions][::-1]
    values = [p.probability for p in predictions][::-1]
    bars = {"type": "bar", "x": values, "y": labels, "orientation": "h", "marker": {"color": "#3182bd"}}
    bars.update(text=[f"{v:.1%}" for v in values], textposition="auto")
    layout = {
        "title": {"text": title},
        "xaxis": {"range": [0, 1], "tickformat": ".0%"},
        "yaxis": {"type": "category", "automargin": True},  # every class named, numeric-looking or not
        "height": 60 + 28 * len(labels),
        "margin": {"l": 10, "r": 10, "t": 30, "b": 10},
    }
    return go.Figure([bars], layout)  # one dict: property-by-property updates cost more on a rerun


def overlay_figure_cam(image, cam) -> go.Figure:
    """A Grad-CAM heatmap over the fitted image the network saw."""
    import numpy as np

    shown = np.clip(np.asarray(image), 0, 255).astype(np.uint8)
    if shown.shape[2] == 1:
        shown = np.repeat(shown, 3, axis=2)
    figure = go.Figure(go.Image(source=image_source(shown)))
    bar = {"title": {"text": "evidence"}, "thickness": 10, "len": 0.8}
    # Inferno, perceptually uniform and readable with colour-vision deficiency (Jet is neither)
    figure.add_trace(
        go.Heatmap(z=cam, colorscale="Inferno", opacity=0.5, zmin=0, zmax=1, colorbar=bar, hoverinfo="skip")
    )
    figure.update_layout(
        height=300,
        margin={"l": 0, "r": 40, "t": 0, "b": 0},
        xaxis={"visible": False},
        yaxis={"visible": False, "autorange": "reversed"},
    )
    return figure


def deletion_figure(salient, random) -> go.Figure:
    """The class probability as pixels are removed: most salient first (solid) against random order
    (dashed, diamonds): told apart by line and marker, not colour alone."""
    import numpy as np

    shares = list(np.linspace(0, 100, len(salient)))
    traces = [
        go.Scatter(
            x=shares, y=list(salient), name="most salient first", mode="lines+markers", line={"color": "#b35806"}
        ),
        go.Scatter(
            x=shares,
            y=list(random),
            name="random order",
            mode="lines+markers",
            line={"color": "#542788", "dash": "dash"},
            marker={"symbol": "diamond"},
        ),
    ]
    figure = go.Figure(traces)
    figure.update_layout(
        height=260, margin={"l": 10, "r": 10, "t": 30, "b": 10}, legend={"orientation": "h", "y": -0.3}
    )
    figure.update_xaxes(title_text="pixels removed (%)")
    figure.update_yaxes(title_text="class probability", range=[0, 1])
    return figure


TABLE_ROWS = 2_000  # rows of a figure's "data as table" at most (a photo's feature map has 270,000 cells)


def data_table(figure: go.Figure):
    """The numbers behind ``figure`` as one long table (series, x, y, value), at most
    :data:`TABLE_ROWS` rows, and how many rows there were; (None, 0) for a figure of pictures only
    (their alternative text says what they show)."""
    import numpy as np
    import pandas as pd

    frames = []
    for index, trace in enumerate(figure.data):
        name = trace.name or getattr(trace, "meta", None) or f"series {index + 1}"
        if trace.type == "heatmap" and trace.z is not None:
            z = np.asarray(trace.z, dtype=object)
            rows, cols = np.indices(z.shape[:2])
            xs = np.asarray(trace.x)[cols.ravel()] if trace.x is not None else cols.ravel()
            ys = np.asarray(trace.y)[rows.ravel()] if trace.y is not None else rows.ravel()
            frames.append(pd.DataFrame({"series": str(name), "x": xs, "y": ys, "value": z.ravel()}))
        elif trace.type in ("scatter", "bar") and trace.x is not None and trace.y is not None:
            frame = pd.DataFrame({"series": str(name), "x": list(trace.x), "y": list(trace.y)})
            if trace.type == "scatter" and trace.mode == "text" and trace.text is not None:
                frame["value"] = list(trace.text)  # labels written on a picture: what they say, and where
            frames.append(frame.dropna(subset=["x", "y"]))
    frames = [frame for frame in frames if len(frame)]
    if not frames:
        return None, 0
    table = pd.concat(frames, ignore_index=True)
    return table.head(TABLE_ROWS).astype(str), len(table)
