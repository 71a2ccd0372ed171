"""DenseNet (chapter 12): torchvision compatibility, legacy weight keys, memory-efficient mode, the CIFAR networks."""

from __future__ import annotations

import copy

import pytest
import torch
import torchvision.models as tvm
from torch import nn

from cnncourse import models
from cnncourse.models import weights as W
from cnncourse.models.densenet import DenseBlock, DenseLayer, densenet_cifar, rename_legacy_keys
from cnncourse.profile import count_params, saved_activation_bytes
from twins import meta_model as _meta, randomise as _randomise, hub_dir, offline  # noqa: F401  (pytest fixtures)

IMAGENET = ["densenet121", "densenet161", "densenet169", "densenet201"]
PARAMS = {"densenet121": 7_978_856, "densenet161": 28_681_000, "densenet169": 14_149_480, "densenet201": 20_013_928}


def _random_torchvision(name: str) -> nn.Module:
    """torchvision's model with random weights and BatchNorm statistics of one random batch.

    Statistics drawn at random would shrink the signal layer after layer until the output hardly depends on the
    input (and two models that differ early would still agree); measured ones keep it alive.
    """
    with torch.device("meta"):
        model = tvm.get_model(name)
    model = _randomise(model.to_empty(device="cpu"))
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in norms:
        m.momentum = 1.0  # the running statistics become this batch's
    with torch.no_grad():
        model.train()(torch.randn(4, 3, 64, 64, generator=torch.Generator().manual_seed(2)))
    for m in norms:
        m.momentum = 0.1
    return model.eval()


def _efficient_copy(model: nn.Module) -> nn.Module:
    twin = copy.deepcopy(model)
    for m in twin.modules():
        if isinstance(m, DenseLayer):
            m.memory_efficient = True
    return twin


# --- torchvision compatibility ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", IMAGENET)
def test_keys_shapes_and_parameter_counts_match_torchvision(name):
    ours, theirs = _meta(getattr(models, name)), _meta(tvm.get_model, name=name)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in theirs.state_dict().items()}
    assert count_params(ours) == PARAMS[name] == tvm.get_model_weights(name).DEFAULT.meta["num_params"]
    assert ours.min_input_size == 29 == tvm.get_model_weights(name).DEFAULT.meta["min_size"][0]


@pytest.mark.parametrize("name", IMAGENET)
def test_same_outputs_as_torchvision_in_eval_mode(name):
    theirs = _random_torchvision(name)
    ours = _meta(getattr(models, name))
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    report = models.check_twin(ours, theirs, x, assign=True)
    assert report.ok, str(report)
    with torch.no_grad():
        out = ours(x)
    assert (out[0] - out[1]).abs().max() > 1e-2  # the output depends on the input


def test_same_outputs_and_gradients_as_torchvision_in_training_mode():
    torch.manual_seed(0)
    theirs = tvm.densenet121().train()
    ours = models.densenet121().train()
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(2, 3, 32, 32)
    a, b = ours(x), theirs(x)
    torch.testing.assert_close(a, b, rtol=0, atol=1e-5)
    a.square().sum().backward()
    b.square().sum().backward()
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-5, msg=name)


def test_min_input_size_is_tight():
    ours, theirs = _meta(models.densenet121).eval(), _meta(tvm.densenet121).eval()
    ours(torch.empty(1, 3, 29, 29, device="meta"))
    theirs(torch.empty(1, 3, 29, 29, device="meta"))
    with pytest.raises(RuntimeError):  # torchvision's layers really fail one pixel below
        theirs(torch.empty(1, 3, 28, 28, device="meta"))
    with pytest.raises(ValueError, match="densenet121 needs inputs of at least 29×29"):
        ours(torch.empty(1, 3, 28, 28, device="meta"))


# --- memory-efficient mode ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("bottleneck", [True, False])
def test_memory_efficient_gives_the_same_outputs_gradients_and_statistics(bottleneck):
    torch.manual_seed(0)
    plain = densenet_cifar(22 if bottleneck else 16, 8, bottleneck=bottleneck, num_classes=5).train()
    efficient = _efficient_copy(plain)
    x = torch.randn(4, 3, 16, 16)
    a, b = plain(x), efficient(x)
    assert torch.equal(a, b)
    a.square().sum().backward()
    b.square().sum().backward()
    for (name, p), q in zip(plain.named_parameters(), efficient.parameters()):
        assert torch.equal(p.grad, q.grad), name
    # the recomputation in backward must not count the batch twice in the BatchNorms' running statistics
    for (name, s), t in zip(plain.named_buffers(), efficient.buffers()):
        assert torch.equal(s, t), name
    plain.eval(), efficient.eval()
    with torch.no_grad():
        assert torch.equal(plain(x), efficient(x))


def test_memory_efficient_keeps_less_for_backward_and_matches_torchvision():
    torch.manual_seed(0)
    block = DenseBlock(12, 16, growth_rate=12).train()
    x = torch.randn(2, 16, 16, 16, requires_grad=True)
    naive, efficient = saved_activation_bytes(block, x), saved_activation_bytes(_efficient_copy(block), x)
    assert efficient < 0.6 * naive
    ours = models.densenet121(memory_efficient=True).train()
    theirs = tvm.densenet121(memory_efficient=True).train()
    theirs.load_state_dict(ours.state_dict())
    y = torch.randn(2, 3, 32, 32)
    a, b = ours(y), theirs(y)
    torch.testing.assert_close(a, b, rtol=0, atol=1e-5)
    a.sum().backward()
    b.sum().backward()
    torch.testing.assert_close(ours.features.conv0.weight.grad, theirs.features.conv0.weight.grad, rtol=1e-4, atol=1e-5)


def test_memory_efficient_needs_no_gradients_in_eval():
    model = models.densenet_bc_100_12(memory_efficient=True).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 32, 32)).shape == (1, 10)


# --- dense connectivity, bottleneck, compression, the CIFAR networks ------------------------------------------------

def test_channel_arithmetic_bottleneck_and_compression():
    model = _meta(densenet_cifar, depth=40, growth_rate=12, bottleneck=True, compression=0.5)
    block = model.features.denseblock1
    k0, k = 24, 12  # DenseNet-BC starts with 2k channels
    for l, layer in enumerate(block.values(), start=1):
        assert layer.conv1.in_channels == k0 + k * (l - 1)  # layer l reads every earlier map
        assert layer.conv1.out_channels == 4 * k and layer.conv2.out_channels == k  # bottleneck of 4k
    assert block.out_channels == k0 + 6 * k
    assert model.features.transition1.conv.out_channels == (k0 + 6 * k) // 2  # θ = 0.5
    plain = _meta(densenet_cifar, depth=40, growth_rate=12, bottleneck=False, compression=1.0)
    layer = plain.features.denseblock1.denselayer3
    assert layer.conv1.kernel_size == (3, 3) and not hasattr(layer, "conv2")
    assert layer.conv1.in_channels == 16 + 2 * 12 and len(plain.features.denseblock1) == 12
    assert plain.features.transition1.conv.out_channels == 16 + 12 * 12  # θ = 1 keeps them all
    odd = _meta(densenet_cifar, depth=10, growth_rate=5)  # 2k + k = 15 channels leave the first block
    assert odd.features.transition1.conv.out_channels == 7  # ⌊θ·m⌋ = ⌊7.5⌋


@pytest.mark.parametrize("depth, k, bottleneck, compression, millions", [
    (40, 12, False, 1.0, 1.0), (100, 12, False, 1.0, 7.0), (100, 24, False, 1.0, 27.2),
    (100, 12, True, 0.5, 0.8), (250, 24, True, 0.5, 15.3), (190, 40, True, 0.5, 25.6),
])
def test_cifar_parameter_counts_are_the_papers_table_2(depth, k, bottleneck, compression, millions):
    model = _meta(densenet_cifar, depth=depth, growth_rate=k, bottleneck=bottleneck, compression=compression)
    assert round(count_params(model) / 1e6, 1) == millions


def test_densenet_bc_100_12():
    model = models.densenet_bc_100_12()
    assert count_params(model) == 769_162
    assert [len(getattr(model.features, f"denseblock{i}")) for i in (1, 2, 3)] == [16, 16, 16]
    assert model.min_input_size == 4 and model.features.conv0.kernel_size == (3, 3)
    model.eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
        assert models.densenet_bc_100_12(7, 1).eval()(torch.randn(1, 1, 4, 4)).shape == (1, 7)
    with pytest.raises(ValueError, match="6n\\+4 layers, not 101"):
        densenet_cifar(101)
    with pytest.raises(ValueError, match="compression"):
        densenet_cifar(40, compression=0.0)


# --- torchvision's weights: legacy key names, the hub cache, offline --------------------------------------------------

def _legacy(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Today's keys written the old way: ``denselayer1.norm1.weight`` → ``denselayer1.norm.1.weight``."""
    out = {}
    for key, value in state.items():
        parts = key.split(".")
        if len(parts) > 2 and parts[-3].startswith("denselayer") and parts[-2][-1] in "12":
            key = ".".join(parts[:-2] + [parts[-2][:-1], parts[-2][-1], parts[-1]])
        out[key] = value
    return out


def test_rename_legacy_keys():
    assert rename_legacy_keys({
        "features.denseblock1.denselayer1.norm.1.weight": 1,
        "features.denseblock4.denselayer16.conv.2.weight": 2,
        "features.denseblock1.denselayer1.norm.2.running_var": 3,
        "features.denseblock1.denselayer1.norm.2.num_batches_tracked": 4,  # not in the old files: left alone
        "features.norm5.weight": 5,
        "classifier.bias": 6,
    }) == {
        "features.denseblock1.denselayer1.norm1.weight": 1,
        "features.denseblock4.denselayer16.conv2.weight": 2,
        "features.denseblock1.denselayer1.norm2.running_var": 3,
        "features.denseblock1.denselayer1.norm.2.num_batches_tracked": 4,
        "features.norm5.weight": 5,
        "classifier.bias": 6,
    }


def test_weights_with_legacy_keys_load_from_the_hub_cache(hub_dir, offline):
    reference = _random_torchvision("densenet121")
    state = {k: v for k, v in reference.state_dict().items() if not k.endswith("num_batches_tracked")}
    legacy = _legacy(state)
    assert "features.denseblock1.denselayer1.norm.1.weight" in legacy  # the layout torchvision's files have
    path = W.weights_file(tvm.DenseNet121_Weights.IMAGENET1K_V1)
    assert path == hub_dir / "densenet121-a639ec97.pth"
    hub_dir.mkdir(parents=True)
    torch.save(legacy, path)
    with pytest.raises(RuntimeError, match="Missing key"):  # without the renaming the file does not fit
        W.load_weights(models.densenet121(), tvm.DenseNet121_Weights.IMAGENET1K_V1)
    ours = models.densenet121(weights="DEFAULT").eval()
    assert not offline  # read from the cache, nothing downloaded
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(ours(x), reference(x))


def test_weights_offline_and_wrong_heads(hub_dir, offline):
    with pytest.raises(ValueError, match="1000 classes but num_classes=10"):
        models.densenet169(weights="DEFAULT", num_classes=10)
    assert not offline  # refused before any download
    with pytest.raises(W.WeightsUnavailableError) as info:
        models.densenet201(weights="IMAGENET1K_V1")
    message = str(info.value)
    assert "densenet201-c1103571.pth" in message and str(hub_dir) in message and "tiny" in message
    assert offline and offline[0][0].endswith("densenet201-c1103571.pth")
