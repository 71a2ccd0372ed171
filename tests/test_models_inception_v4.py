"""Inception-v4 and Inception-ResNet-v1/-v2 (chapter 11): timm twins through the key maps, counts, scales, weights."""

from __future__ import annotations

import pytest
import timm
import torch
from torch import nn

from cnncourse import models
from cnncourse.models.inception_v4 import timm_to_inception_resnet_v2, timm_to_inception_v4
from cnncourse.models import weights as W
from cnncourse.profile import count_params
from twins import meta_model as _meta, randomise as _randomise

TWINS = {  # ours: (timm's name, key map, parameters as timm counts them)
    "inception_v4": ("inception_v4", timm_to_inception_v4, 42_679_816),
    "inception_resnet_v2": ("inception_resnet_v2", timm_to_inception_resnet_v2, 55_843_464),
}


def _random_timm(name: str) -> nn.Module:
    """timm's model with random weights and BatchNorm statistics of one random batch.

    Statistics drawn at random would shrink the signal in every one of ~150 layers until the output no longer
    depends on the input (and two models that differ early would still agree); measured ones keep it alive.
    """
    with torch.device("meta"):
        model = timm.create_model(name, pretrained=False)
    model = _randomise(model.to_empty(device="cpu"))
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in norms:
        m.momentum = 1.0  # the running statistics become this batch's
    with torch.no_grad():
        model.train()(torch.randn(4, 3, 91, 91, generator=torch.Generator().manual_seed(2)))
    for m in norms:
        m.momentum = 0.1
    return model.eval()


# --- timm twins ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("ours", list(TWINS))
def test_key_map_turns_timms_state_dict_into_ours_one_to_one(ours):
    timm_name, key_map, params = TWINS[ours]
    model, reference = _meta(getattr(models, ours)), _meta(timm.create_model, model_name=timm_name)
    theirs = reference.state_dict()
    mapped = key_map(theirs)
    assert len(mapped) == len(theirs)  # no two timm keys land on the same name
    assert {k: v.shape for k, v in mapped.items()} == {k: v.shape for k, v in model.state_dict().items()}
    model.load_state_dict(mapped, strict=True, assign=True)
    assert count_params(model) == count_params(reference) == params
    assert models.model_info(ours).twin == f"timm:{timm_name}"


@pytest.mark.parametrize("ours", list(TWINS))
@pytest.mark.parametrize("train", [False, True])
def test_same_outputs_as_timm_given_the_same_weights(ours, train):
    timm_name, key_map, _ = TWINS[ours]
    reference = _random_timm(timm_name)
    model = _meta(getattr(models, ours), dropout=0.0)  # timm's default drop_rate is 0 (training mode compares too)
    x = torch.randn(2, 3, 107, 107, generator=torch.Generator().manual_seed(1))  # final grid 2×2
    report = models.check_twin(model, reference, x, key_map=key_map, assign=True, train=train)
    assert report.ok, str(report)
    assert report.output_shapes == [(2, 1000)]
    with torch.no_grad():
        out = model(x)
    assert (out[0] - out[1]).abs().max() > 0.1  # the output depends on the input


def test_the_residual_scale_is_applied():
    reference = _random_timm("inception_resnet_v2")
    unscaled = _meta(models.inception_resnet_v2, scales=(1.0, 1.0, 1.0))
    report = models.check_twin(unscaled, reference, torch.randn(1, 3, 75, 75), key_map=timm_to_inception_resnet_v2,
                               assign=True)
    assert not report.missing_keys and report.max_abs_diff > 1e-2  # same weights, other function


def test_residual_scales_and_relus_per_block():
    v2 = _meta(models.inception_resnet_v2)
    assert [b.scale for b in v2.blocks_a] == [0.17] * 10
    assert [b.scale for b in v2.blocks_b] == [0.10] * 20
    assert [b.scale for b in v2.blocks_c] == [0.20] * 9 + [1.0]
    assert [isinstance(b.relu, nn.ReLU) for b in v2.blocks_c] == [True] * 9 + [False]
    v1 = _meta(models.inception_resnet_v1, scales=(0.3, 0.2, 0.1))
    assert [len(v1.blocks_a), len(v1.blocks_b), len(v1.blocks_c)] == [5, 10, 5]  # the paper's figure 15
    assert {b.scale for b in v1.blocks_a} == {0.3} and {b.scale for b in v1.blocks_c} == {0.1}


def test_inception_resnet_v1_follows_the_papers_figures():
    model = _meta(models.inception_resnet_v1, num_classes=10)
    x = torch.empty(1, 3, 299, 299, device="meta")
    shapes = {}
    for name, module in model.stages():
        x = module(x)
        shapes[name] = tuple(x.shape[1:])
    assert shapes["stem.conv4b"] == (256, 35, 35)  # figure 14
    assert shapes["reduction_a"] == (896, 17, 17)  # table 1: k, l, m, n = 192, 192, 256, 384
    assert shapes["reduction_b"] == (1792, 8, 8)  # figure 12
    assert shapes["blocks_c.4"] == (1792, 8, 8)
    assert model(torch.empty(2, 3, 299, 299, device="meta")).shape == (2, 10)
    a = model.blocks_a[0]
    assert [a.branch2[i].conv.out_channels for i in range(3)] == [32, 32, 32]  # figure 10 (v2: 32, 48, 64)
    assert a.project.in_channels == 96 and a.project.bias is not None
    assert not any(isinstance(m, nn.BatchNorm2d) for m in a.project.modules())  # the residual's 1×1 is linear


def test_inception_v4_block_shapes():
    model = _meta(models.inception_v4)
    x = torch.empty(1, 3, 299, 299, device="meta")
    shapes = {}
    for name, module in model.stages():
        x = module(x)
        shapes[name] = tuple(x.shape[1:])
    assert shapes["stem.mixed5a"] == (384, 35, 35)
    assert shapes["blocks_a.3"] == (384, 35, 35)
    assert shapes["reduction_a"] == (1024, 17, 17)
    assert shapes["reduction_b"] == (1536, 8, 8)
    assert shapes["blocks_c.2"] == (1536, 8, 8)
    assert [n for n, _ in model.stages()].count("reduction_a") == 1 and len(model.stages()) == 6 + 4 + 1 + 7 + 1 + 3


@pytest.mark.parametrize("name", ["inception_v4", "inception_resnet_v1", "inception_resnet_v2"])
def test_min_input_size_is_tight(name):
    model = _meta(getattr(models, name)).eval()
    assert model.min_input_size == 75
    model.min_input_size = 1  # our check out of the way: the layers themselves must fail one pixel below
    with pytest.raises(RuntimeError):
        model(torch.empty(1, 3, 74, 74, device="meta"))
    model(torch.empty(1, 3, 75, 75, device="meta"))
    if name != "inception_resnet_v1":
        reference = _meta(timm.create_model, model_name=name).eval()
        reference(torch.empty(1, 3, 75, 75, device="meta"))
        with pytest.raises(RuntimeError):
            reference(torch.empty(1, 3, 74, 74, device="meta"))


# --- timm's pretrained weights ------------------------------------------------------------------------------------

@pytest.mark.parametrize("ours, tag", [("inception_v4", "DEFAULT"), ("inception_resnet_v2", "tf_ens_adv_in1k")])
def test_weights_load_from_a_local_timm_file(tmp_path, ours, tag):
    timm_name, _, _ = TWINS[ours]
    reference = _random_timm(timm_name)
    path = tmp_path / f"{timm_name}.pth"
    torch.save(reference.state_dict(), path)
    model = getattr(models, ours)(weights=tag, weights_file=path).eval()
    x = torch.randn(1, 3, 91, 91)
    with torch.no_grad():
        assert torch.equal(model(x), reference(x))


def test_weights_offline_unknown_tags_and_wrong_heads(tmp_path, monkeypatch):
    import huggingface_hub.constants as hf

    monkeypatch.setattr(hf, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hf, "HF_HUB_CACHE", str(tmp_path / "hf"))
    with pytest.raises(W.WeightsUnavailableError) as info:
        models.inception_resnet_v2(weights="DEFAULT")
    message = str(info.value)
    assert "timm/inception_resnet_v2.tf_in1k" in message and str(tmp_path / "hf") in message
    assert "file=" in message and "tiny" in message
    with pytest.raises(ValueError, match="no weights 'imagenet21k'.*DEFAULT, tf_in1k"):
        models.inception_v4(weights="imagenet21k")
    with pytest.raises(ValueError, match="num_classes=1000, but num_classes=10"):
        models.inception_v4(weights="DEFAULT", num_classes=10)
    with pytest.raises(W.WeightsUnavailableError, match="missing.pth"):
        models.inception_v4(weights="DEFAULT", weights_file=tmp_path / "missing.pth")


def test_small_inputs_and_other_channels_run():
    model = models.inception_resnet_v1(num_classes=3, in_channels=1).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 1, 75, 75)).shape == (2, 3)
    with pytest.raises(ValueError, match="at least 75×75"):
        model(torch.randn(1, 1, 74, 74))
