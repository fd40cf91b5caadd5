"""Fresh virtual environments holding exactly what a script's ``pip install`` line names.

"Show the code" promises that a script runs after its own pip line in a fresh environment, so the
tests run each script there, not in the project's environment (where everything is installed and a
missing line goes unseen). One environment per distinct line, built once and kept under
``.venv/script-envs/`` (``make clean`` removes it with the project's own environment).

Versions follow the project's requirements files (as constraints), so a script is tested against the
releases the lab runs. ``tensorflow`` is installed as ``tensorflow-cpu``: the CPU build of the same
release, the same Keras and API, and what ``make run`` installs on a machine without a GPU.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

ENVS = ROOT / ".venv" / "script-envs"
SUBSTITUTES = {"tensorflow": "tensorflow-cpu"}
_SPEC = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._\[\],-]*)\s*([<>=!~].*)?$")


def constraints() -> str:
    """The version specifiers of the project's requirements files, one per line, for ``pip -c``."""
    lines = []
    for name in ("requirements.txt", "requirements-dev.txt"):
        for raw in (ROOT / name).read_text().splitlines():
            line = raw.split("#", 1)[0].strip()
            if not line or line.startswith("-"):
                continue
            match = _SPEC.match(line)
            if match and match.group(2):
                lines.append(re.sub(r"\[.*\]", "", match.group(1)) + match.group(2).replace(" ", ""))
    return "\n".join(sorted(set(lines))) + "\n"


def python_for(requirements: tuple[str, ...]) -> Path:
    """The interpreter of a fresh environment holding ``requirements`` (built on first use, then reused)."""
    packages = [SUBSTITUTES.get(name, name) for name in requirements]
    pins = constraints()
    recipe = " ".join(packages) + "\n" + pins
    slug = "-".join(requirements)[:60] or "nothing"
    env = ENVS / f"{slug}-{hashlib.sha256(recipe.encode()).hexdigest()[:8]}"
    python, marker = env / "bin" / "python", env / ".installed"
    if marker.exists() and marker.read_text() == recipe:
        return python
    shutil.rmtree(env, ignore_errors=True)
    env.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(env)], check=True, timeout=300)
    (env / "constraints.txt").write_text(pins)
    if packages:
        install = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        done = subprocess.run(
            [*install, "-c", str(env / "constraints.txt"), *packages], capture_output=True, text=True, timeout=1200
        )
        assert done.returncode == 0, f"pip install {' '.join(packages)} failed:\n{done.stderr[-3000:]}"
    marker.write_text(recipe)
    return python
