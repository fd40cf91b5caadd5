"""Plain NumPy/Pillow/TensorFlow/Keras code that the lab runs and "Show the code" hands out.

One copy of each computation: :mod:`lab` imports these functions, and the scripts copy their source
(as they copy ``models/``). Never imports ``lab``: a learner can run and edit a recipe without the app.
"""
