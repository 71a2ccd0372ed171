"""Full mode's code paths run in CI: chapters executed with CNNCOURSE_MODE=full on small files in the real formats.

There is no internet and no GPU here, so the test writes what full mode downloads — MNIST's idx files, CIFAR-10's
pickled batches, torchvision's AlexNet, GoogLeNet, Inception-v3, DenseNet-121 and EfficientNet-B0 weights (random
ones) under their official names in a temporary torch hub cache, timm's Inception-v4 weights in a temporary Hugging
Face cache read offline — and runs each chapter with ``CNNCOURSE_SMOKE_STEPS=2`` (every `fit` trains one epoch of
two batches). CIFAR-10's MD5 check cannot pass on files written here, so a first cell does what
``data.cifar10(verify=False)`` is for: presence checks and a data-only unpickler instead. Running a chapter a
second time must resume its finished checkpoints instead of training again.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
import torch
import torchvision.models as tvm
from nbclient import NotebookClient

from notebook_checks import is_checked
from test_data import write_cifar, write_mnist
from test_student_run import _sanitizers

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ["03_lenet", "04_alexnet", "05_vgg", "06_nin", "07_googlenet", "08_batchnorm", "09_inception_v3",
            "10_resnet", "11_inception_v4", "12_densenet", "13_bit", "14_efficientnet"]
# torchvision weights a chapter's full mode loads besides AlexNet's (in the fixture), written when the chapter runs:
# (builder, weights, arguments) — random weights, without torchvision's slow initialisation, under the official name
PRETRAINED = {
    "07_googlenet": [(tvm.googlenet, tvm.GoogLeNet_Weights.IMAGENET1K_V1,
                      {"aux_logits": True, "init_weights": False})],
    "09_inception_v3": [(tvm.inception_v3, tvm.Inception_V3_Weights.IMAGENET1K_V1, {"init_weights": False})],
    "10_resnet": [(tvm.resnet50, tvm.ResNet50_Weights.DEFAULT, {})],
    "12_densenet": [(tvm.densenet121, tvm.DenseNet121_Weights.IMAGENET1K_V1, {})],
    "14_efficientnet": [(tvm.efficientnet_b0, tvm.EfficientNet_B0_Weights.IMAGENET1K_V1, {})],
}
# timm weights a chapter's full mode loads (timm model name with its pretrained tag), written when the chapter runs
# into the Hugging Face cache (HF_HOME, read offline: HF_HUB_OFFLINE=1) the way huggingface_hub lays a download out
TIMM_PRETRAINED = {"11_inception_v4": ["inception_v4.tf_in1k"]}
# BiT's original .npz files a chapter's full mode loads, written when the chapter runs into <data>/bit the way
# `resnetv2.bit_weights_file` keeps a download: random weights in the original layout, with the real head size
BIT_NPZ = {"13_bit": ["BiT-M-R50x1"]}
# chapters whose full mode trains nothing (no checkpoint to look for)
TRAINS_NOTHING = {"00_overview", "11_inception_v4"}
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
            "CNNCOURSE_RESULTS": str(root / "results"), "CNNCOURSE_SMOKE_STEPS": "2", "CUDA_VISIBLE_DEVICES": "",
            "HF_HOME": str(root / "huggingface"), "HF_HUB_OFFLINE": "1"}


def write_timm_weights(hf_home: Path, name: str) -> None:
    """timm's randomly initialised ``name`` ("model.tag") as the snapshot huggingface_hub would have downloaded."""
    import timm
    from safetensors.torch import save_file

    repo = hf_home / "hub" / f"models--{timm.models.get_pretrained_cfg(name).hf_hub_id.replace('/', '--')}"
    if repo.exists():
        return
    revision = "0" * 40  # the commit the cache's refs/main points at
    snapshot = repo / "snapshots" / revision
    snapshot.mkdir(parents=True)
    state = timm.create_model(name.split(".")[0], pretrained=False).state_dict()
    save_file({k: v.contiguous() for k, v in state.items()}, snapshot / "model.safetensors")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)


def write_bit_npz(data_dir: Path, name: str) -> None:
    """A randomly initialised BiT network ``name`` ("BiT-M-R50x1") as the ``.npz`` BiT's bucket serves."""
    from cnncourse.models import resnetv2

    path = data_dir / resnetv2.BIT_FOLDER / f"{name}.npz"
    if not path.exists():
        kind, variant = name.rsplit("-", 1)
        resnetv2.save_bit_npz(resnetv2.resnetv2_bit(variant, resnetv2.BIT_CLASSES[kind]), path)


def run_full(name: str, env: dict, monkeypatch) -> nbformat.NotebookNode:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for build, weights, kwargs in PRETRAINED.get(name, []):
        file = Path(env["TORCH_HOME"]) / "hub" / "checkpoints" / Path(weights.url).name
        if not file.exists():
            torch.save(build(weights=None, **kwargs).state_dict(), file)
    for timm_name in TIMM_PRETRAINED.get(name, []):
        write_timm_weights(Path(env["HF_HOME"]), timm_name)
    for bit_name in BIT_NPZ.get(name, []):
        write_bit_npz(Path(env["CNNCOURSE_DATA"]), bit_name)
    nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(UNVERIFIED_CIFAR))
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    return nb


def checked_outputs(nb: nbformat.NotebookNode) -> list[str]:
    """What each NBVAL_CHECK_OUTPUT cell printed, sanitised as nbval does: mode-independent by definition."""
    rules, texts = _sanitizers(), []
    for cell in nb.cells:
        if cell.cell_type == "code" and is_checked(cell.source):
            text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("name") == "stdout")
            for pattern, replacement in rules:
                text = pattern.sub(replacement, text)
            texts.append(text)
    return texts


def printed(nb: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                   if o.get("name") == "stdout")


@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_runs_in_full_mode_and_resumes(name, full_mode, monkeypatch):
    executed = run_full(name, full_mode, monkeypatch)
    first = printed(executed)
    assert "mode=full (class schedule)" in first
    stored = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    for k, (want, got) in enumerate(zip(checked_outputs(stored), checked_outputs(executed))):
        assert got == want, f"checked cell {k} prints something else in full mode: a checked cell must not depend on it"
    assert "tiny mode:" not in first  # no cell took its tiny-mode branch
    # the chapter reached its results cell, which records nothing in a smoke run (its numbers are not results)
    assert "smoke run: figures not recorded" in first
    assert not (Path(full_mode["CNNCOURSE_RESULTS"]) / "full" / f"{name}.json").exists()
    checkpoints = sorted((Path(full_mode["CNNCOURSE_DATA"]) / "checkpoints").glob(f"{name}*-class.pt"))
    assert checkpoints or name in TRAINS_NOTHING
    if name == "03_lenet":  # the second execution of a chapter loads its finished runs instead of training again
        second = printed(run_full(name, full_mode, monkeypatch))
        assert "03_lenet-tanh-class.pt: all 1 epochs already done" in second and "epoch 1/1" not in second
