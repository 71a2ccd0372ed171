"""What the model tests share: torchvision twins with random weights, and a torch hub cache that cannot download.

Import the helpers (``from twins import random_torchvision``) and the fixtures (``from twins import hub_dir,
offline``) into a test module; pytest finds fixtures imported into a module's namespace.
"""

from __future__ import annotations

import urllib.error

import pytest
import torch
import torchvision.models as tvm
from torch import nn


def meta_model(builder, *args, **kwargs) -> nn.Module:
    """``builder(*args, **kwargs)`` on the ``meta`` device: shapes without numbers, built at no cost."""
    with torch.device("meta"):
        return builder(*args, **kwargs)


def randomise(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random values in every tensor of the state dict, BatchNorm running statistics included."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for key, t in model.state_dict().items():
            if key.endswith("num_batches_tracked"):
                t.fill_(1)
            elif key.endswith("running_var"):
                t.uniform_(0.5, 1.5, generator=gen)
            elif key.endswith("running_mean") or key.endswith(".bias"):
                t.uniform_(-0.1, 0.1, generator=gen)
            else:
                bound = 1.5 / max(1, t[0].numel() if t.dim() > 1 else 1) ** 0.5
                t.uniform_(-bound, bound, generator=gen)
    return model


def random_torchvision(name: str, *, seed: int = 0, calibrate: bool = True, **kwargs) -> nn.Module:
    """torchvision's ``name`` built on the meta device, filled with random values, in eval mode.

    With ``calibrate`` the BatchNorm running statistics are those of one random 3×64×64 batch: statistics drawn at
    random shrink or blow up the signal layer after layer in a deep network, until the output hardly depends on the
    input and two models that differ early would still agree.
    """
    with torch.device("meta"):
        model = tvm.get_model(name, **kwargs)
    model = randomise(model.to_empty(device="cpu"), seed)
    if calibrate:
        norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        for m in norms:
            m.momentum = 1.0  # the running statistics become this batch's
        with torch.no_grad():
            model.train()(torch.randn(4, 3, 64, 64, generator=torch.Generator().manual_seed(seed + 1)))
        for m in norms:
            m.momentum = 0.1
    return model.eval()


@pytest.fixture
def hub_dir(tmp_path, monkeypatch):
    """An empty torch hub cache in a temporary folder (torch.hub.get_dir() reads TORCH_HOME); returns checkpoints/."""
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    return tmp_path / "hub" / "checkpoints"


@pytest.fixture
def offline(monkeypatch):
    """Every download fails like a machine without network; the list records (url, hash prefix) of each attempt."""
    calls = []

    def fail(url, dst, hash_prefix=None, progress=True):
        calls.append((url, hash_prefix))
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "download_url_to_file", fail)
    return calls
