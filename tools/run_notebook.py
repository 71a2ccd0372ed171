"""Sync a notebook pair and re-execute it in tiny mode, so its stored outputs are what nbval will check.

    python tools/run_notebook.py notebooks/03_lenet.py [more pairs ...]

Edit the ``.py`` (the reviewed source), then run this: it runs ``jupytext --sync`` (the newer file wins, so the
``.ipynb`` takes the ``.py``'s cells), executes the ``.ipynb`` top to bottom with ``CNNCOURSE_MODE=tiny`` and
progress bars off, in the notebook's folder, the way nbval will, saves it, and prints how long it took.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def run(path: Path) -> float:
    py, ipynb = path.with_suffix(".py"), path.with_suffix(".ipynb")
    if not py.exists():
        raise SystemExit(f"{py} does not exist: every notebook is edited as its .py (jupytext py:percent)")
    subprocess.run([sys.executable, "-m", "jupytext", "--sync", "--quiet", str(py)], check=True)
    os.environ.update(CNNCOURSE_MODE="tiny", TQDM_DISABLE="1", PYDEVD_DISABLE_FILE_VALIDATION="1")
    nb = nbformat.read(ipynb, as_version=4)
    start = time.perf_counter()
    NotebookClient(
        nb, timeout=600, kernel_name="python3", record_timing=False, resources={"metadata": {"path": str(py.parent)}}
    ).execute()
    seconds = time.perf_counter() - start
    nbformat.write(nb, ipynb)
    # write the .py again from the executed notebook so both files carry the same cells and a newer timestamp
    subprocess.run([sys.executable, "-m", "jupytext", "--sync", "--quiet", str(ipynb)], check=True)
    return seconds


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    for arg in sys.argv[1:]:
        print(f"{run(Path(arg)):6.1f} s  {arg}")
