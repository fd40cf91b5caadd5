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
    ],
    "Training": [
        ("app_pages/train.py", "Train a CNN", "train", ":material/model_training:"),
        ("app_pages/finetune.py", "Fine-tune flowers", "finetune", ":material/local_florist:"),
    ],
    "Using models": [
        ("app_pages/classify.py", "Pretrained classifier", "classify", ":material/image_search:"),
    ],
    "Evaluating": [
        ("app_pages/pr.py", "PR / mAP explorer", "pr-map", ":material/show_chart:"),
    ],
    "Workshop": [
        ("app_pages/instructor.py", "Instructor", "instructor", ":material/school:"),
    ],
}
