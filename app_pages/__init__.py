"""Streamlit pages: one file per tool, thin (widgets -> one lab call -> render).

The folder is deliberately not called ``pages/``: Streamlit 1.67 treats a ``pages/`` folder next
to the main script as a legacy (v1) multipage app until ``app.py`` has run once, so the first deep
link after a server start (``/padding``) would bypass our navigation and page config.

``NAVIGATION`` is plain data (no streamlit import) so that app.py and the tests share it. A tool
appears here once it exists; no placeholder pages.
"""

NAVIGATION: dict[str, list[tuple[str, str, str, str]]] = {
    # section: [(file, title, url path, material icon)]
    "Building blocks": [
        ("app_pages/convolution.py", "Convolution playground", "convolution", ":material/filter_center_focus:"),
        ("app_pages/padding.py", "Padding calculator", "padding", ":material/padding:"),
        ("app_pages/pooling.py", "Pooling viewer", "pooling", ":material/grid_view:"),
        ("app_pages/architectures.py", "Classic architectures", "architectures", ":material/account_tree:"),
    ],
    "Training": [
        ("app_pages/train.py", "Train a CNN", "train", ":material/model_training:"),
        ("app_pages/finetune.py", "Fine-tune flowers", "finetune", ":material/local_florist:"),
    ],
    "Using models": [
        ("app_pages/classify.py", "Pretrained classifier", "classify", ":material/image_search:"),
        ("app_pages/inspect.py", "Inspect a model", "inspect", ":material/biotech:"),
    ],
    "Detecting and segmenting": [
        ("app_pages/detect.py", "Detect", "detect", ":material/center_focus_strong:"),
        ("app_pages/segment.py", "Segment", "segment", ":material/texture:"),
    ],
    "Evaluating": [
        ("app_pages/pr.py", "PR / mAP explorer", "pr-map", ":material/show_chart:"),
    ],
    "Workshop": [
        ("app_pages/instructor.py", "Instructor", "instructor", ":material/school:"),
    ],
}

DESCRIPTIONS: dict[str, str] = {  # url path: one line for the home page
    "convolution": "Slide a kernel over a photo and see every output pixel's arithmetic. **Start here.**",
    "padding": "SAME or VALID, stride and dilation: output sizes, padding, and a layer planner.",
    "pooling": "Max and average pooling, which cell wins each window, and the invariance it buys.",
    "architectures": "LeNet-5 to MobileNet side by side: parameters, compute, depth; train each, scaled down.",
    "train": "Train a CNN on digits, Fashion-MNIST, CIFAR-10 or your own pictures, and look inside.",
    "finetune": "Transfer learning: a pretrained base, a new head, then unfreeze (HOML's flowers).",
    "classify": "ImageNet models side by side on your photos, with Grad-CAM.",
    "inspect": "Any neuron of a model you trained: its receptive field and its arithmetic, to the last digit.",
    "detect": "From classifier to detector: localization, the FCN trick, a YOLO-style grid, NMS and mAP.",
    "segment": "A class for every pixel: a U-Net's transposed convolutions, with and without its skips.",
    "pr-map": "Precision-recall and mAP: every AP definition, and COCO's numbers for your detections.",
    "instructor": "For a workshop's instructor: every run in the room and the class table.",
}
START_HERE = ("convolution", "padding", "pooling", "train")  # the chapter's order for a first visit
