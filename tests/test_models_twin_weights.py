"""`check_twin` (our model against its reference) and the weight-loading hooks later chapters need."""

from __future__ import annotations

import os
from collections import OrderedDict

import pytest
import torch
import torchvision.models as tvm
from torch import nn

from cnncourse import models
from cnncourse.models import weights as W


def _pair(renamed: bool = False):
    """A small reference model and ours; the reference may name its layers differently (like timm does)."""
    torch.manual_seed(0)
    names = ("stem", "head") if renamed else ("features", "classifier")
    reference = nn.Sequential(OrderedDict([(names[0], nn.Conv2d(3, 4, 3)), ("act", nn.ReLU()), ("pool", nn.AdaptiveAvgPool2d(1)),
                                           ("flat", nn.Flatten()), (names[1], nn.Linear(4, 5))]))
    ours = nn.Sequential(OrderedDict([("features", nn.Conv2d(3, 4, 3)), ("act", nn.ReLU()), ("pool", nn.AdaptiveAvgPool2d(1)),
                                      ("flat", nn.Flatten()), ("classifier", nn.Linear(4, 5))]))
    return ours, reference


def test_check_twin_passes_for_torchvision_alexnet_and_prints_two_checked_lines():
    report = models.check_twin(models.alexnet(), tvm.alexnet(), torch.randn(2, 3, 64, 64))
    assert report.ok and report.missing_keys == [] and report.unexpected_keys == []
    assert str(report) == ("missing keys: [], unexpected keys: []\n"
                           "output shape (2, 1000), max abs difference < 1e-05: True")


def test_check_twin_reports_different_outputs():
    class Shifted(nn.Sequential):
        def forward(self, x):
            return super().forward(x) + 1e-3

    ours, reference = _pair()
    report = models.check_twin(Shifted(OrderedDict(ours.named_children())), reference, torch.randn(2, 3, 8, 8))
    assert not report.ok and report.max_abs_diff == pytest.approx(1e-3, rel=1e-3)
    assert str(report).endswith("max abs difference < 1e-05: False")


def test_check_twin_reports_keys_and_applies_a_key_map():
    ours, reference = _pair(renamed=True)
    report = models.check_twin(ours, reference, torch.randn(1, 3, 8, 8))
    assert not report.ok
    assert report.missing_keys == ["features.weight", "features.bias", "classifier.weight", "classifier.bias"]
    assert report.unexpected_keys == ["stem.weight", "stem.bias", "head.weight", "head.bias"]

    def timm_to_ours(state):
        return {k.replace("stem.", "features.").replace("head.", "classifier."): v for k, v in state.items()}

    assert models.check_twin(ours, reference, torch.randn(1, 3, 8, 8), key_map=timm_to_ours).ok


def test_check_twin_in_training_mode_draws_the_same_dropout_masks():
    ours, theirs = models.alexnet(dropout=0.5), tvm.alexnet(dropout=0.5)
    report = models.check_twin(ours, theirs, torch.randn(2, 3, 64, 64), train=True)
    assert report.ok and ours.training and theirs.training
    torch.manual_seed(1)
    a = ours(torch.ones(1, 3, 64, 64))
    torch.manual_seed(2)
    assert not torch.equal(a, ours(torch.ones(1, 3, 64, 64)))  # dropout is really on: masks differ without the seed


def test_check_twin_with_a_shape_mismatch_raises_torchs_error():
    ours, reference = _pair()
    ours.classifier = nn.Linear(4, 6)
    with pytest.raises(RuntimeError, match="size mismatch for classifier.weight"):
        models.check_twin(ours, reference, torch.randn(1, 3, 8, 8))


# --- weights: the keyword torchvision fixes, key remapping, safe loading, timm's weights ----------------------------

def test_overwrite_named_param_sets_or_refuses():
    kwargs = {}
    W.overwrite_named_param(kwargs, "transform_input", True)
    assert kwargs == {"transform_input": True}
    W.overwrite_named_param(kwargs, "transform_input", True)  # the same value again is fine
    with pytest.raises(ValueError, match="these weights need aux_logits=True, but aux_logits=False was asked for"):
        W.overwrite_named_param({"aux_logits": False}, "aux_logits", True)


@pytest.fixture
def hub_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    path = tmp_path / "hub" / "checkpoints"
    path.mkdir(parents=True)
    return path


def test_load_weights_applies_a_remap_hook(hub_dir):
    reference = tvm.alexnet().eval()
    legacy = {k.replace("features.", "features_old."): v for k, v in reference.state_dict().items()}
    torch.save(legacy, W.weights_file(tvm.AlexNet_Weights.IMAGENET1K_V1))
    with pytest.raises(RuntimeError, match="Missing key"):
        W.load_weights(models.alexnet(), tvm.AlexNet_Weights.IMAGENET1K_V1)
    remap = lambda state: {k.replace("features_old.", "features."): v for k, v in state.items()}  # noqa: E731
    ours = W.load_weights(models.alexnet(), tvm.AlexNet_Weights.IMAGENET1K_V1, remap=remap).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(ours(x), reference(x))


class _Payload:
    def __reduce__(self):
        return (os.system, ("echo pwned > pwned.txt",))


def test_a_weights_file_that_would_run_code_is_refused(hub_dir, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    torch.save({"features.0.weight": _Payload()}, W.weights_file(tvm.AlexNet_Weights.IMAGENET1K_V1))
    with pytest.raises(W.WeightsUnavailableError, match="could not be loaded as a weights file of tensors"):
        models.alexnet(weights="DEFAULT")
    assert not (tmp_path / "pwned.txt").exists()


def test_timm_weights_load_from_a_local_file_through_a_key_map(tmp_path):
    """timm's resnet18 uses torchvision's names, so torchvision's resnet18 takes its weights with no key map."""
    import timm

    reference = timm.create_model("resnet18", pretrained=False).eval()
    path = tmp_path / "resnet18.pth"
    torch.save(reference.state_dict(), path)
    ours = W.load_timm_weights(tvm.resnet18(), "resnet18", file=path).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), reference(x))
    renamed = lambda s: {"model." + k: v for k, v in s.items()}  # noqa: E731
    with pytest.raises(RuntimeError, match="Unexpected key"):
        W.load_timm_weights(tvm.resnet18(), "resnet18", renamed, file=path)


def test_timm_weights_offline_name_repository_folder_and_fixes(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as hf

    monkeypatch.setattr(hf, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hf, "HF_HUB_CACHE", str(tmp_path / "hf"))
    with pytest.raises(W.WeightsUnavailableError) as info:
        W.load_timm_weights(tvm.resnet18(), "resnet18")
    message = str(info.value)
    assert "timm/resnet18.a1_in1k" in message and str(tmp_path / "hf") in message
    assert "connect to the internet" in message and "file=" in message and "tiny" in message
    with pytest.raises(ValueError, match="timm has no model named 'resnet9000'"):
        W.load_timm_weights(tvm.resnet18(), "resnet9000")
