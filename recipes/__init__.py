"""Plain NumPy/Pillow/TensorFlow/Keras code that the lab runs and "Show the code" hands out.

One copy of each computation: :mod:`lab` imports these functions, and the scripts copy their source
(as they copy ``models/``). Never imports ``lab``: a learner can run and edit a recipe without the app.

A recipe that trains or evaluates runs as a script on its settings block's defaults
(``python -m recipes.train``); as in nanoGPT, ``--name=value`` arguments override settings.
"""

import ast
import sys


def override(settings, arguments=None):
    """Apply ``--name=value`` arguments to a recipe's settings (its module globals).

    A value is read as a Python literal (``--epochs=3``, ``--weights=None``), else kept as text
    (``--dataset=mnist``); a name the settings lack is an error, so a typo is not silently ignored.
    """
    for argument in sys.argv[1:] if arguments is None else arguments:
        name, _, text = argument.removeprefix("--").partition("=")
        if not argument.startswith("--") or name not in settings or name.startswith("_"):
            raise SystemExit(f"unknown setting {argument!r}: use --name=value with a name from the settings block")
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            value = text
        print(f"setting {name} = {value!r}")
        settings[name] = value
