"""ResNet (chapter 10): torchvision twins, the paper's CIFAR networks, shortcuts A and B, plain networks, weights."""

from __future__ import annotations

import pytest
import torch
import torchvision.models as tvm
from torch import nn

from cnncourse import models
from cnncourse.data import DataUnavailableError
from cnncourse.models import weights as W
from cnncourse.models.resnet import BasicBlock, Bottleneck, ResNet, ZeroPadShortcut, conv1x1, conv3x3
from cnncourse.profile import count_params
from twins import meta_model as _meta, hub_dir, offline, random_torchvision  # noqa: F401  (pytest fixtures)

# torchvision's weight metadata (num_params) and the paper's section 4.2 with option A shortcuts
IMAGENET = {
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
    "resnext50_32x4d": 25_028_904,
    "wide_resnet50_2": 68_883_240,
}
CIFAR = {20: 269_722, 32: 464_154, 44: 658_586, 56: 853_018, 110: 1_727_962}


def _x(*shape: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# --- torchvision compatibility ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", IMAGENET)
def test_keys_shapes_and_counts_match_torchvision(name):
    ours, theirs = _meta(getattr(models, name)), _meta(tvm.get_model, name)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in theirs.state_dict().items()}
    ours.load_state_dict(theirs.state_dict(), strict=True, assign=True)
    assert count_params(ours) == IMAGENET[name] == tvm.get_model_weights(name).DEFAULT.meta["num_params"]
    assert ours.min_input_size == tvm.get_model_weights(name).DEFAULT.meta["min_size"][0] == 1


@pytest.mark.parametrize("name", IMAGENET)
def test_same_eval_outputs_as_torchvision(name):
    theirs = random_torchvision(name)
    x = _x(2, 3, 64, 64)
    report = models.check_twin(_meta(getattr(models, name)), theirs, x, assign=True, tolerance=1e-4)
    assert report.ok, str(report)
    assert report.output_shapes == [(2, 1000)]
    with torch.no_grad():  # the comparison means something: the output depends on the input
        assert (theirs(x)[0] - theirs(x)[1]).abs().max() > 1e-2


def test_train_mode_outputs_match_and_the_comparison_sees_a_missing_shortcut():
    theirs = random_torchvision("resnet18")
    ours = _meta(models.resnet18)
    assert models.check_twin(ours, theirs, _x(4, 3, 32, 32), assign=True, train=True).ok  # batch statistics
    ours.layer3[1].residual = False  # one block loses its shortcut: the twin check must notice
    report = models.check_twin(ours, theirs, _x(2, 3, 32, 32))
    assert not report.ok and report.max_abs_diff > 1e-3


def test_tiny_and_odd_inputs_work_like_torchvision():
    theirs = random_torchvision("resnet50")
    ours = models.resnet50()
    ours.load_state_dict(theirs.state_dict())
    ours.eval()
    with torch.no_grad():
        for size in (1, 7, 33):
            x = _x(2, 3, size, size)
            assert torch.allclose(ours(x), theirs(x), atol=1e-5)


def test_resnext_and_wide_resnet_fix_their_arguments():
    assert _meta(models.resnext50_32x4d).layer1[0].conv2.groups == 32
    assert _meta(models.wide_resnet50_2).layer1[0].conv2.out_channels == 128  # twice ResNet-50's 64
    with pytest.raises(ValueError, match="groups=32"):
        models.resnext50_32x4d(groups=16)
    with pytest.raises(ValueError, match="width_per_group=128"):
        models.wide_resnet50_2(width_per_group=64)


def test_num_classes_zero_init_and_norm_layer():
    model = models.resnet18(num_classes=7, zero_init_residual=True)
    assert model.fc.out_features == 7
    assert all(not b.bn2.weight.any() for s in model.stages() for b in s)
    gn = _meta(models.resnet50, norm_layer=lambda c: nn.GroupNorm(32, c))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in gn.modules())
    assert sum(isinstance(m, nn.GroupNorm) for m in gn.modules()) == 53  # 1 stem + 16 blocks × 3 + 4 projections


# --- blocks and helpers -----------------------------------------------------------------------------------------

class _RecordingConv(nn.Conv2d):
    """A convolution class of its own, standing in for BiT's weight-standardised one."""


def test_helpers_and_blocks_take_any_conv_and_norm():
    c3, c1 = conv3x3(4, 8, stride=2, conv_layer=_RecordingConv), conv1x1(4, 8)
    assert type(c3) is _RecordingConv and c3.bias is None
    assert (c3.kernel_size, c3.stride, c3.padding) == ((3, 3), (2, 2), (1, 1))
    assert (c1.kernel_size, c1.bias) == ((1, 1), None)
    block = Bottleneck(64, 16, conv_layer=_RecordingConv, norm_layer=lambda c: nn.GroupNorm(4, c))
    assert [type(m) for m in (block.conv1, block.conv2, block.conv3)] == [_RecordingConv] * 3
    assert isinstance(block.bn3, nn.GroupNorm) and block.expansion == 4 and BasicBlock.expansion == 1
    assert block(_x(2, 64, 8, 8)).shape == (2, 64, 8, 8)
    with pytest.raises(ValueError, match="Bottleneck"):
        BasicBlock(16, 16, groups=2)
    with pytest.raises(ValueError, match="downsample"):
        BasicBlock(16, 32, 2, downsample=ZeroPadShortcut(2, 16), residual=False)


@pytest.mark.parametrize("block_type, channels", [(BasicBlock, 16), (Bottleneck, 64)])
def test_a_block_whose_branch_is_zero_is_the_identity_and_a_plain_block_is_not(block_type, channels):
    planes = channels // block_type.expansion
    residual, plain = block_type(channels, planes).eval(), block_type(channels, planes, residual=False).eval()
    for block in (residual, plain):
        last = block.bn3 if block_type is Bottleneck else block.bn2
        nn.init.zeros_(last.weight)  # F(x) = 0
    x = _x(2, channels, 6, 6).relu()  # a block's input is the previous block's ReLU output
    with torch.no_grad():
        assert torch.equal(residual(x), x)
        assert torch.equal(plain(x), torch.zeros_like(x))


# --- the CIFAR networks -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("depth", CIFAR)
def test_cifar_counts_depth_and_option_b_extra(depth):
    a = _meta(models.resnet_cifar, depth)
    assert count_params(a) == CIFAR[depth] == count_params(getattr(models, f"resnet{depth}")())
    assert count_params(_meta(models.plain_cifar, depth)) == CIFAR[depth]  # shortcuts A are free
    # option B: a 1×1 projection + BN at each of the two stage changes, 16 -> 32 and 32 -> 64 channels
    extra = count_params(_meta(models.resnet_cifar, depth, "B")) - CIFAR[depth]
    assert extra == (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64)
    weight_layers = [m for m in a.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert len(weight_layers) == depth  # 6n + 2: the stem, 2 per block, the classifier


def test_cifar_depth_width_and_channels():
    with pytest.raises(ValueError, match="6n\\+2"):
        models.resnet_cifar(21)
    with pytest.raises(ValueError, match="shortcut"):
        models.resnet_cifar(20, shortcut="C")
    small = models.resnet20(num_classes=3, in_channels=1, width=4).eval()
    assert [s[-1].conv2.out_channels for s in small.stages()] == [4, 8, 16]
    assert small(_x(2, 1, 32, 32)).shape == (2, 3)


def test_option_a_pads_zeros_and_option_b_projects():
    x = _x(2, 16, 32, 32)
    pad = ZeroPadShortcut(stride=2, extra=16)
    out = pad(x)
    assert out.shape == (2, 32, 16, 16) and count_params(pad) == 0
    assert torch.equal(out[:, :16], x[:, :, ::2, ::2]) and not out[:, 16:].any()

    a, b = models.resnet_cifar(20, "A").eval(), models.resnet_cifar(20, "B").eval()
    shortcuts_a = [blk.downsample for s in a.stages() for blk in s]
    assert [type(d).__name__ for d in shortcuts_a] == ["NoneType"] * 3 + ["ZeroPadShortcut", "NoneType", "NoneType"] * 2
    assert [(d.stride, d.extra) for d in shortcuts_a if d is not None] == [(2, 16), (2, 32)]
    projections = [blk.downsample for s in b.stages() for blk in s if blk.downsample is not None]
    assert [tuple(p[0].weight.shape) for p in projections] == [(32, 16, 1, 1), (64, 32, 1, 1)]
    assert [p[0].stride for p in projections] == [(2, 2), (2, 2)]
    with torch.no_grad():
        for net in (a, b):
            h = net.relu(net.bn1(net.conv1(_x(2, 3, 32, 32))))
            shapes = []
            for stage in net.stages():
                h = stage(h)
                shapes.append(tuple(h.shape))
            assert shapes == [(2, 16, 32, 32), (2, 32, 16, 16), (2, 64, 8, 8)]


@pytest.mark.parametrize("size", [1, 5, 7, 9])
def test_option_a_matches_the_strided_convolution_for_odd_sizes(size):
    h = _x(1, 16, size, size)
    with torch.no_grad():
        assert ZeroPadShortcut(2, 16)(h).shape == conv3x3(16, 32, stride=2)(h).shape  # the two branches add up
        assert models.resnet_cifar(20, "A").eval()(_x(1, 3, size, size)).shape == (1, 10)


def test_plain_network_has_no_shortcut_and_differs_only_by_the_addition():
    plain, res = models.plain_cifar(20), models.resnet_cifar(20, "A")
    blocks = [blk for s in plain.stages() for blk in s]
    assert len(blocks) == 9 and all(not blk.residual and blk.downsample is None for blk in blocks)
    assert not any(isinstance(m, ZeroPadShortcut) for m in plain.modules())
    plain.load_state_dict(res.state_dict(), strict=True)  # the same layers, so the same weights fit
    plain.eval(), res.eval()
    x = _x(2, 3, 32, 32)
    with torch.no_grad():
        assert (plain(x) - res(x)).abs().max() > 1e-3
        for blk in (b for s in plain.stages() for b in s):
            blk.residual = True  # put the shortcuts back (identity and zero padding) ...
            if blk.conv1.in_channels != blk.conv2.out_channels:
                blk.downsample = ZeroPadShortcut(2, blk.conv2.out_channels - blk.conv1.in_channels)
        assert torch.equal(plain(x), res(x))  # ... and it is the ResNet again


@pytest.mark.parametrize("shortcut", [None, "B"])
def test_unregistered_variants_trace(shortcut):
    model = models.resnet_cifar(20, shortcut).eval()
    traced = torch.fx.symbolic_trace(model)
    x = _x(2, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(traced(x), model(x))


def test_option_a_refuses_to_shrink_channels():
    with pytest.raises(ValueError, match="option A"):
        ResNet(Bottleneck, [1, 1], widths=(16, 8), small_input=True, shortcut="A")


# --- pretrained weights -----------------------------------------------------------------------------------------

def test_weights_load_from_the_torch_hub_cache(hub_dir, offline):
    reference = random_torchvision("resnet18")
    path = W.weights_file(tvm.ResNet18_Weights.IMAGENET1K_V1)
    assert path == hub_dir / "resnet18-f37072fd.pth"
    hub_dir.mkdir(parents=True)
    torch.save(reference.state_dict(), path)
    ours = models.resnet18(weights="DEFAULT", progress=False).eval()
    assert not offline  # nothing was downloaded
    x = _x(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(ours(x), reference(x))


def test_offline_without_the_file_is_a_clear_error(hub_dir, offline):
    with pytest.raises(W.WeightsUnavailableError) as info:
        models.resnet50(weights="DEFAULT")  # DEFAULT is torchvision's second, better recipe
    assert isinstance(info.value, DataUnavailableError)
    message = str(info.value)
    assert "resnet50-11ad3fa6.pth" in message and str(hub_dir) in message and "tiny" in message
    assert offline[0][1] == "11ad3fa6"  # the hash is checked on download
    with pytest.raises(ValueError, match="1000 classes but num_classes=10"):
        models.resnet18(weights="IMAGENET1K_V1", num_classes=10)
    with pytest.raises(TypeError, match="ResNet34_Weights"):
        models.resnet34(weights=tvm.ResNet18_Weights.DEFAULT)
    assert len(offline) == 1  # the wrong requests were refused before any download
