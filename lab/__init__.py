"""CNN Lab backend: pure Python/NumPy/TensorFlow/Pillow/Plotly. Never imports streamlit.

Importing this package is cheap: TensorFlow is imported only by the modules that need it
(``lab.device`` and the modules built on it), so pages that do not need it stay fast.
"""
