"""Checks of the committed notebooks that nbval cannot do itself.

nbval skips a checked cell that has no stored output, and `jupytext --check` does not compare a pair, so these
functions look at the files directly. Each returns a list of problems (empty when all is well).
"""

from __future__ import annotations

import json
from pathlib import Path

import jupytext
import nbformat

MARKER = "NBVAL_CHECK_OUTPUT"
MACHINE_PATHS = ("/home/", "/root/", "/tmp/", "/work/", "/Users/", "site-packages", "C:\\\\Users")


def is_checked(source: str) -> bool:
    """True when nbval will compare this cell's output: the marker alone on a comment line (nbval's own rule)."""
    return any(line.strip().lstrip("#").strip() == MARKER for line in source.splitlines() if line.strip().startswith("#"))


def pair_mismatch(py: Path, ipynb: Path) -> list[str]:
    a = [(c.cell_type, c.source.strip()) for c in jupytext.read(py).cells]
    b = [(c.cell_type, c.source.strip()) for c in jupytext.read(ipynb).cells]
    if a == b:
        return []
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return [f"cell {i} differs between {py.name} and {ipynb.name}: run tools/run_notebook.py {py}"]
    return [f"{py.name} has {len(a)} cells, {ipynb.name} {len(b)}: run tools/run_notebook.py {py}"]


def output_problems(ipynb: Path) -> list[str]:
    nb = nbformat.read(ipynb, as_version=4)
    problems, last = [], 0
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        count = cell.get("execution_count")
        if count is None or count <= last:
            problems.append(f"cell {i} was not executed in a top-to-bottom run (execution count {count})")
        last = count or last
        if is_checked(cell.source) and not cell.get("outputs"):
            problems.append(f"cell {i} is {MARKER} but has no stored output, so nbval would check nothing")
        elif MARKER in cell.source and not is_checked(cell.source):
            problems.append(f"cell {i} mentions {MARKER} but not alone on a comment line, so nbval ignores it")
        blob = json.dumps(cell.get("outputs", []))
        for bad in MACHINE_PATHS:
            if bad in blob:
                problems.append(f"cell {i}: stored output contains a machine path ({bad})")
    return problems


def header_problems(ipynb: Path) -> list[str]:
    from cnncourse.colab import INSTALL_CELL, badge, notebook_id

    nb = nbformat.read(ipynb, as_version=4)
    problems = []
    first_md = next((c for c in nb.cells if c.cell_type == "markdown"), None)
    first_code = next((c for c in nb.cells if c.cell_type == "code"), None)
    if first_md is None or nb.cells[0] is not first_md or badge(notebook_id(ipynb)) not in first_md.source:
        problems.append(f"the first cell must be markdown with the Colab badge {badge(notebook_id(ipynb))}")
    if first_code is None or first_code.source.strip() != INSTALL_CELL.strip():
        problems.append("the first code cell must be cnncourse.colab.INSTALL_CELL exactly")
    return problems
