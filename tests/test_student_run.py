"""The notebooks run the way a student runs them: in a Jupyter kernel, with progress bars on.

nbval (and `tools/run_notebook.py`, which stores the outputs) run with progress bars off, because bars only add
widget noise to stored outputs. These tests make sure that this difference changes nothing a student sees: the
same chapter, executed in a kernel with bars on, prints the same seeded numbers as its stored outputs, and Ctrl-C
in a training cell shows the one-line resume hint instead of a traceback.
"""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
WIDGET = "application/vnd.jupyter.widget-view+json"


def _sanitizers() -> list[tuple[re.Pattern, str]]:
    """The same replacements nbval applies (tests/sanitize.cfg): times, addresses, versions, paths."""
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "tests" / "sanitize.cfg")
    return [(re.compile(cfg[s]["regex"]), cfg[s]["replace"]) for s in cfg.sections()]


def printed(nb: nbformat.NotebookNode) -> list[str]:
    """Everything each code cell printed to stdout, with machine- and time-dependent parts replaced."""
    rules = _sanitizers()
    texts = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("name") == "stdout")
        for pattern, replacement in rules:
            text = pattern.sub(replacement, text)
        texts.append(text)
    return texts


def execute_like_a_student(nb: nbformat.NotebookNode, monkeypatch, cwd: Path, allow_errors: bool = False):
    monkeypatch.delenv("TQDM_DISABLE", raising=False)  # conftest turns bars off for nbval; a student has them on
    monkeypatch.setenv("CNNCOURSE_MODE", "tiny")
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    client = NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=allow_errors,
                            resources={"metadata": {"path": str(cwd)}})
    return client.execute()


def test_chapter_03_with_progress_bars_prints_the_stored_numbers(monkeypatch):
    path = ROOT / "notebooks" / "03_lenet.ipynb"
    stored = nbformat.read(path, as_version=4)
    fresh = execute_like_a_student(nbformat.read(path, as_version=4), monkeypatch, path.parent)
    bars = sum(WIDGET in o.get("data", {}) for c in fresh.cells for o in c.get("outputs", []))
    assert bars > 0, "no progress bar widget was displayed: the run did not have progress bars on"
    assert any("test accuracy" in text for text in printed(stored))
    for i, (want, got) in enumerate(zip(printed(stored), printed(fresh))):
        assert got == want, f"code cell {i} printed something else than its stored output"


def test_ctrl_c_in_a_notebook_shows_the_hint_only(monkeypatch, tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "import torch\n"
        "from torch import nn\n"
        "from torch.utils.data import DataLoader, TensorDataset\n"
        "from cnncourse import train\n"
        "def ctrl_c(out, y):\n"
        "    raise KeyboardInterrupt\n"
        "loader = DataLoader(TensorDataset(torch.randn(8, 3), torch.zeros(8, dtype=torch.long)), batch_size=4)\n"
        "train.fit(nn.Linear(3, 2), loader, 2, loss_fn=ctrl_c, checkpoint='run.pt', device='cpu')\n"
    )]
    done = execute_like_a_student(nb, monkeypatch, tmp_path, allow_errors=True)
    errors = [o for o in done.cells[0].outputs if o.output_type == "error"]
    assert len(errors) == 1 and errors[0].ename == "TrainingInterrupted"
    assert errors[0].traceback == [
        "TrainingInterrupted: training stopped in epoch 1 of 2; no epoch had finished yet: "
        "run fit again with the same checkpoint to resume"
    ]


@pytest.mark.parametrize("change", ["a different number", "a missing line"])
def test_the_comparison_can_fail(change):
    nb = nbformat.v4.new_notebook()
    out = nbformat.v4.new_output("stream", name="stdout", text="test accuracy: 96.44% in 1.3s\n")
    nb.cells = [nbformat.v4.new_code_cell("print()", outputs=[out])]
    other = nbformat.from_dict(nbformat.v4.new_notebook())
    text = "test accuracy: 96.67% in 2.0s\n" if change == "a different number" else ""
    other.cells = [nbformat.v4.new_code_cell("print()", outputs=[nbformat.v4.new_output("stream", name="stdout",
                                                                                       text=text)])]
    assert printed(nb) != printed(other)
    assert printed(nb) == ["test accuracy: 96.44% in TIME\n"]  # timings are not compared
