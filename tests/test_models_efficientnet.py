"""EfficientNet (chapter 14): torchvision compatibility, the compound-scaling table, the blocks, weights."""

from __future__ import annotations


import pytest
import torch
import torchvision.models as tvm
from torch import nn
from torchvision.models import efficientnet as tv_effnet
from torchvision.ops.misc import SqueezeExcitation as TVSqueezeExcitation

from cnncourse import models
from cnncourse.data import DataUnavailableError
from cnncourse.models import efficientnet as E
from cnncourse.models import weights as W
from cnncourse.profile import count_params
from twins import meta_model as _meta, hub_dir, offline  # noqa: F401  (pytest fixtures)

VARIANTS = [f"b{i}" for i in range(8)]
NAMES = [f"efficientnet_{v}" for v in VARIANTS]


def _randomise(module: nn.Module, seed: int = 0) -> nn.Module:
    """Random values in every tensor, BatchNorm running statistics included (so eval-mode BN and its eps matter)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for key, t in module.state_dict().items():
            if key.endswith("num_batches_tracked"):
                t.fill_(1)
            elif key.endswith("running_var"):
                t.uniform_(0.05, 0.1, generator=gen)  # small: a wrong BN eps (1e-5 vs 1e-3) changes outputs by ~0.03
            elif key.endswith("running_mean"):
                t.uniform_(-0.1, 0.1, generator=gen)
            else:
                bound = 1.0 / max(1, t[0].numel() if t.dim() > 1 else 1) ** 0.5
                t.uniform_(-bound, bound, generator=gen)
    return module


def _random_torchvision(name: str) -> nn.Module:
    with torch.device("meta"):
        model = tvm.get_model(name)
    model.to_empty(device="cpu")
    return _randomise(model).eval()


# --- torchvision compatibility ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_state_dict_and_parameters_match_torchvision(name):
    ours, theirs = _meta(getattr(models, name)), _meta(tvm.get_model, name=name)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in theirs.state_dict().items()}
    ours.load_state_dict(theirs.state_dict(), strict=True, assign=True)
    assert count_params(ours) == tvm.get_model_weights(name).DEFAULT.meta["num_params"]


def test_b0_has_the_published_parameter_count():
    assert count_params(_meta(models.efficientnet_b0)) == 5_288_548


@pytest.mark.parametrize("name", NAMES)
def test_same_outputs_as_torchvision_in_eval_mode(name):
    x = torch.randn(2, 3, 48, 48, generator=torch.Generator().manual_seed(1))
    report = models.check_twin(_meta(getattr(models, name)), _random_torchvision(name), x, tolerance=1e-4, assign=True)
    assert report.ok, report
    assert report.output_shapes == [(2, 1000)]


def test_same_outputs_in_training_mode_stochastic_depth_and_dropout_included():
    ours = models.efficientnet_b0(stochastic_depth_prob=0.8, dropout=0.5)
    theirs = tvm.efficientnet_b0(stochastic_depth_prob=0.8, dropout=0.5)
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    report = models.check_twin(ours, theirs, x, train=True)
    assert report.ok, report
    torch.manual_seed(0)
    a = ours(x)
    torch.manual_seed(1)
    assert not torch.equal(a, ours(x))  # random drops really happen


@pytest.mark.parametrize("variant", VARIANTS)
def test_registered_input_size_is_where_torchvisions_weights_were_evaluated(variant):
    info = models.model_info(f"efficientnet_{variant}")
    crop = tvm.get_model_weights(info.name).DEFAULT.transforms().crop_size[0]
    assert info.input_size == (3, crop, crop) and info.chapter == 14 and info.twin == "torchvision"
    assert _meta(getattr(models, info.name)).min_input_size == 1


def test_dropout_per_variant_and_overrides():
    assert [_meta(getattr(models, n)).classifier[0].p for n in NAMES] == [0.2, 0.2, 0.3, 0.3, 0.4, 0.4, 0.5, 0.5]
    model = _meta(models.efficientnet_b3, dropout=0.1, num_classes=7)
    assert model.classifier[0].p == 0.1 and model.classifier[1].out_features == 7
    assert _meta(models.efficientnet_b6).features[0][1].eps == 1e-3  # TensorFlow-trained weights
    assert _meta(models.efficientnet_b4).features[0][1].eps == 1e-5


def test_a_one_pixel_image_runs_and_an_unbatched_one_is_refused():
    model = models.efficientnet_b0(num_classes=3).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 1, 1)).shape == (1, 3)
        with pytest.raises(ValueError, match="unbatched"):
            model(torch.randn(3, 32, 32))


# --- the compound-scaling table ---------------------------------------------------------------------------------

def test_make_divisible_is_torchvisions_rounding():
    from torchvision.models._utils import _make_divisible

    values = [v / 10 for v in range(1, 6000, 7)]
    assert [E.make_divisible(v) for v in values] == [_make_divisible(v, 8) for v in values]
    assert (E.make_divisible(17.6), E.make_divisible(35.2), E.make_divisible(3)) == (16, 32, 8)


@pytest.mark.parametrize("variant", VARIANTS)
def test_scaled_stage_tables_equal_torchvisions(variant):
    v = E.VARIANTS[variant]
    theirs, last_channel = tv_effnet._efficientnet_conf(f"efficientnet_{variant}", width_mult=v.width,
                                                        depth_mult=v.depth)
    ours = E.scale_stages(v.width, v.depth)
    assert last_channel is None  # the head is 4 × the last stage's channels in both
    assert [(s.expand_ratio, s.kernel_size, s.stride, s.in_channels, s.out_channels, s.repeats) for s in ours] == [
        (c.expand_ratio, c.kernel, c.stride, c.input_channels, c.out_channels, c.num_layers) for c in theirs]


def test_the_rule_by_hand_for_b7():
    b7 = E.scale_stages(2.0, 3.1)
    assert [s.repeats for s in b7] == [4, 7, 7, 10, 10, 13, 4]  # ceil(3.1 × [1, 2, 2, 3, 3, 4, 1])
    assert [s.out_channels for s in b7] == [32, 48, 80, 160, 224, 384, 640]
    assert b7[0].in_channels == 64
    b2 = E.scale_stages(1.1, 1.2)
    assert [s.out_channels for s in b2] == [16, 24, 48, 88, 120, 208, 352]  # 1.1 × channels, to multiples of 8
    assert E.scale_stages(1.0, 1.0) == list(E.B0_STAGES)


def test_compound_scaling_rule():
    depth, width, resolution = E.compound_scaling(1)
    assert (depth, width, resolution) == (pytest.approx(1.2), pytest.approx(1.1), 258)
    assert depth * width**2 * (resolution / 224) ** 2 == pytest.approx(1.92, abs=0.01)  # α·β²·γ² ≈ 2
    assert E.compound_scaling(0) == (1.0, 1.0, 224)
    assert E.compound_scaling(3)[2] == round(224 * 1.15**3)


# --- the blocks against torchvision's ---------------------------------------------------------------------------

def test_squeeze_excitation_equals_torchvisions():
    ours, theirs = E.SqueezeExcitation(24, 6), TVSqueezeExcitation(24, 6, activation=nn.SiLU)
    x = torch.randn(3, 24, 7, 5)
    report = models.check_twin(ours, _randomise(theirs), x)
    assert report.ok, report
    gate = torch.sigmoid(ours.fc2(nn.functional.silu(ours.fc1(x.mean((2, 3), keepdim=True)))))
    assert torch.allclose(ours(x), x * gate, atol=1e-6)  # by definition: a per-channel gate in (0, 1)


@pytest.mark.parametrize("expand, kernel, stride, cin, cout", [
    (1, 3, 1, 32, 16),  # no expansion layer, channels change: no residual
    (6, 5, 2, 24, 40),  # stride 2: no residual
    (6, 3, 1, 40, 40),  # same shape: residual
    (4, 3, 1, 16, 16),
])
@pytest.mark.parametrize("train", [False, True])
def test_mbconv_equals_torchvisions(expand, kernel, stride, cin, cout, train):
    config = tv_effnet.MBConvConfig(expand, kernel, stride, cin, cout, 1)
    theirs = _randomise(tv_effnet.MBConv(config, 0.5, nn.BatchNorm2d))
    ours = E.MBConv(cin, cout, expand, kernel, stride, stochastic_depth_prob=0.5)
    x = torch.randn(8, cin, 9, 9)
    report = models.check_twin(ours, theirs, x, train=train)
    assert report.ok, report
    assert ours.use_res_connect == theirs.use_res_connect == (stride == 1 and cin == cout)
    assert len(ours.block) == (3 if expand == 1 else 4)


def test_mbconv_residual_and_stochastic_depth():
    block = E.MBConv(16, 16, 6, 3, 1, stochastic_depth_prob=1.0).train()
    x = torch.randn(4, 16, 8, 8)
    assert torch.equal(block(x), x)  # every residual branch dropped: the block is the identity
    block.eval()
    assert torch.allclose(block(x), block.block(x) + x)
    with pytest.raises(ValueError, match="stride"):
        E.MBConv(16, 16, 6, 3, 3)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        E.StochasticDepth(1.5)


def test_stochastic_depth_keeps_the_expected_value():
    layer = E.StochasticDepth(0.25).train()
    torch.manual_seed(0)
    out = layer(torch.ones(20_000, 1))
    assert out.unique().tolist() == [0.0, pytest.approx(4 / 3)]  # dropped, or kept and scaled by 1 / (1 - p)
    assert out.mean().item() == pytest.approx(1.0, abs=0.02)


def test_a_small_network_from_a_custom_stage_table():
    stages = [E.Stage(1, 3, 1, 16, 16, 1), E.Stage(4, 3, 2, 16, 24, 2)]
    model = E.EfficientNet(stages, num_classes=10, in_channels=1, stem_stride=1).eval()
    assert model(torch.randn(2, 1, 32, 32)).shape == (2, 10)
    assert model.features[-1][0].out_channels == 96  # head: 4 × the last stage's channels
    with pytest.raises(ValueError, match="at least one stage"):
        E.EfficientNet([])


# --- pretrained weights -----------------------------------------------------------------------------------------

def test_weights_load_through_torch_hub_from_the_cache(hub_dir, offline):
    reference = _randomise(tvm.efficientnet_b0()).eval()
    path = W.weights_file(tvm.EfficientNet_B0_Weights.IMAGENET1K_V1)
    assert path == hub_dir / "efficientnet_b0_rwightman-7f5810bc.pth"
    hub_dir.mkdir(parents=True)
    torch.save(reference.state_dict(), path)
    ours = models.efficientnet_b0(weights="DEFAULT", progress=False).eval()
    assert not offline  # nothing was downloaded
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(ours(x), reference(x), atol=1e-5)


def test_offline_without_the_file_names_file_folder_and_fixes(hub_dir, offline):
    with pytest.raises(W.WeightsUnavailableError) as info:
        models.efficientnet_b1(weights="IMAGENET1K_V2")
    assert isinstance(info.value, DataUnavailableError)
    message = str(info.value)
    assert "efficientnet_b1-c27df63c.pth" in message and str(hub_dir) in message
    assert "connect to the internet" in message and "tiny" in message
    assert offline[0][1] == "c27df63c"  # the hash is checked on download


def test_weights_with_other_num_classes_or_of_another_model_are_refused(offline):
    with pytest.raises(ValueError, match="1000 classes but num_classes=10"):
        models.efficientnet_b0(weights="DEFAULT", num_classes=10)
    with pytest.raises(TypeError, match="EfficientNet_B2_Weights"):
        models.efficientnet_b2(weights=tvm.EfficientNet_B0_Weights.DEFAULT)
    with pytest.raises(ValueError, match="IMAGENET1K_V1"):
        models.efficientnet_b3(weights="IMAGENET1K_V2")
    assert not offline
