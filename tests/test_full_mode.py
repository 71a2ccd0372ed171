"""Full mode's code paths run in CI: chapters executed with CNNCOURSE_MODE=full on small files in the real formats.

There is no internet and no GPU here, so the test writes what full mode downloads — MNIST's idx files, CIFAR-10's
pickled batches, torchvision's AlexNet weights under their official name in a temporary torch hub cache — and runs
each chapter with ``CNNCOURSE_SMOKE_STEPS=2`` (every `fit` trains one epoch of two batches). CIFAR-10's MD5 check
cannot pass on files written here, so a first cell does what ``data.cifar10(verify=False)`` is for: presence
checks and a data-only unpickler instead. Running a chapter a second time must resume its finished checkpoints
instead of training again.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
import torch
import torchvision.models as tvm
from nbclient import NotebookClient

from test_data import write_cifar, write_mnist

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ["03_lenet", "04_alexnet", "05_vgg", "06_nin"]
UNVERIFIED_CIFAR = (
    "import functools\n"
    "import cnncourse.data\n"
    "cnncourse.data.cifar10 = functools.partial(cnncourse.data.cifar10, download=False, verify=False)\n"
)


@pytest.fixture(scope="module")
def full_mode(tmp_path_factory):
    """Environment of a full-mode run whose downloads are already in place (written here, in the real formats)."""
    root = tmp_path_factory.mktemp("full")
    data_dir, torch_home = root / "data", root / "torch"
    write_mnist(data_dir, n_train=40, n_test=20)
    write_cifar(data_dir, per_batch=20)
    hub = torch_home / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    torch.save(tvm.alexnet().state_dict(), hub / Path(tvm.AlexNet_Weights.IMAGENET1K_V1.url).name)
    return {"CNNCOURSE_MODE": "full", "CNNCOURSE_DATA": str(data_dir), "TORCH_HOME": str(torch_home),
            "CNNCOURSE_RESULTS": str(root / "results"), "CNNCOURSE_SMOKE_STEPS": "2", "CUDA_VISIBLE_DEVICES": ""}


def run_full(name: str, env: dict, monkeypatch) -> nbformat.NotebookNode:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(UNVERIFIED_CIFAR))
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    return nb


def printed(nb: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                   if o.get("name") == "stdout")


@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_runs_in_full_mode_and_resumes(name, full_mode, monkeypatch):
    first = printed(run_full(name, full_mode, monkeypatch))
    assert "mode=full (class schedule)" in first
    assert "tiny mode:" not in first  # no cell took its tiny-mode branch
    assert (Path(full_mode["CNNCOURSE_RESULTS"]) / "full" / f"{name}.json").exists()
    checkpoints = sorted((Path(full_mode["CNNCOURSE_DATA"]) / "checkpoints").glob(f"{name}*-class.pt"))
    assert checkpoints or name == "00_overview"
    if name == "03_lenet":  # the second execution of a chapter loads its finished runs instead of training again
        second = printed(run_full(name, full_mode, monkeypatch))
        assert "03_lenet-tanh-class.pt: all 1 epochs already done" in second and "epoch 1/1" not in second
