"""AlexNet, VGG and NiN (chapters 04–06): torchvision compatibility, parameter counts, input sizes, weights."""

from __future__ import annotations

from functools import cache

import pytest
import torch
import torchvision.models as tvm
from torch import nn

from cnncourse import models
from cnncourse.data import DataUnavailableError
from cnncourse.models import weights as W
from cnncourse.models.common import check_input_size, min_input_size
from cnncourse.models.vgg import CONFIGS, DEPTH_TO_CONFIG
from cnncourse.profile import count_params
from twins import meta_model as _meta, hub_dir, offline  # noqa: F401  (pytest fixtures)

TORCHVISION_MODELS = ["alexnet", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"]

# torchvision's own metadata (weights.meta["num_params"]) and the course's two AlexNet-2012 layouts.
PARAMS = {
    "alexnet": 61_100_840,
    "vgg11": 132_863_336,
    "vgg11_bn": 132_868_840,
    "vgg13": 133_047_848,
    "vgg13_bn": 133_053_736,
    "vgg16": 138_357_544,
    "vgg16_bn": 138_365_992,
    "vgg19": 143_667_240,
    "vgg19_bn": 143_678_248,
}


@cache
def _shared(shape: tuple[int, ...]) -> torch.Tensor:
    """One random tensor per shape, reused by every VGG's identical classifier (filling 102.8 M values is slow)."""
    return torch.empty(shape).uniform_(-0.01, 0.01, generator=torch.Generator().manual_seed(len(shape)))


def _random_torchvision(name: str) -> nn.Module:
    """torchvision's model with random values everywhere, BN running statistics included (so eval-mode BN matters)."""
    with torch.device("meta"):
        model = tvm.get_model(name)
    model.to_empty(device="cpu")
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for key, t in model.state_dict().items():
            if t.numel() > 10_000_000:
                t.copy_(_shared(tuple(t.shape)))
            elif key.endswith("num_batches_tracked"):
                t.fill_(1)
            elif key.endswith("running_var"):
                t.uniform_(0.5, 1.5, generator=gen)
            else:
                bound = 1.0 / max(1, t[0].numel() if t.dim() > 1 else 1) ** 0.5
                t.uniform_(-bound, bound, generator=gen)
    return model.eval()


# --- torchvision compatibility ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", TORCHVISION_MODELS)
def test_state_dict_keys_and_shapes_match_torchvision(name):
    ours, theirs = _meta(getattr(models, name)), _meta(tvm.get_model, name=name)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in theirs.state_dict().items()}
    ours.load_state_dict(theirs.state_dict(), strict=True, assign=True)  # strict: same keys, same shapes
    assert count_params(ours) == PARAMS[name] == tvm.get_model_weights(name).DEFAULT.meta["num_params"]


@pytest.mark.parametrize("name", TORCHVISION_MODELS)
def test_same_outputs_as_torchvision_in_eval_mode(name):
    # 64×64 leaves 2×2 maps before VGG's 7×7 adaptive pooling, so a wrong flatten order would show
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    report = models.check_twin(_meta(getattr(models, name)), _random_torchvision(name), x, tolerance=1e-4, assign=True)
    assert report.ok, report
    assert report.output_shapes == [(2, 1000)]


def test_alexnet_matches_torchvision_initialised_model_at_224():
    report = models.check_twin(models.alexnet(), tvm.alexnet(), torch.randn(2, 3, 224, 224))  # torchvision's init
    assert report.ok, report


def test_num_classes_and_dropout_are_accepted():
    assert models.alexnet(num_classes=10, dropout=0.2).classifier[-1].out_features == 10
    assert _meta(models.vgg11_bn, num_classes=7).classifier[-1].out_features == 7
    assert models.alexnet(dropout=0.2).classifier[0].p == 0.2


# --- the course-only models ------------------------------------------------------------------------------------

def test_alexnet_paper_layout_and_parameters():
    model = _meta(models.alexnet_paper)
    assert count_params(model) == 62_378_344
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [96, 256, 384, 384, 256]
    lrns = [m for m in model.features if isinstance(m, nn.LocalResponseNorm)]
    assert len(lrns) == 2 and (lrns[0].size, lrns[0].k, lrns[0].beta) == (5, 2.0, 0.75)
    assert lrns[0].alpha / lrns[0].size == pytest.approx(1e-4)  # the paper's alpha; PyTorch divides by size
    assert count_params(_meta(models.alexnet_paper, two_towers=True)) == 60_965_224
    assert count_params(_meta(models.alexnet_paper, num_classes=10)) == 62_378_344 - 4096 * 990 - 990


def test_alexnet_paper_runs_and_its_lrn_sits_after_relu():
    model = models.alexnet_paper(num_classes=5).eval()
    kinds = [type(m).__name__ for m in model.features[:4]]
    assert kinds == ["Conv2d", "ReLU", "LocalResponseNorm", "MaxPool2d"]
    with torch.no_grad():
        assert model(torch.randn(1, 3, 224, 224)).shape == (1, 5)


def test_nin_parameters_shapes_and_score_maps():
    assert count_params(models.nin()) == 966_986  # the paper's CIFAR-10 network
    model = models.nin(num_classes=7, in_channels=1, width=0.25).eval()
    x = torch.randn(3, 1, 32, 32)
    with torch.no_grad():
        maps, logits = model.score_maps(x), model(x)
    assert maps.shape == (3, 7, 8, 8)
    assert torch.allclose(logits, maps.mean(dim=(2, 3)), atol=1e-6)  # global average pooling, nothing else
    assert not any(isinstance(m, nn.Linear) for m in model.modules())
    first = models.nin(width=0.5).features[0][0].weight  # He initialisation: std sqrt(2 / fan_in)
    assert abs(first.std().item() - (2 / (3 * 25)) ** 0.5) < 0.02
    for size in (1, 7, 28, 64):  # padded poolings: any size works
        assert model(torch.randn(1, 1, size, size)).shape == (1, 7)


def test_vgg_builder_configs_depths_and_small_input():
    for depth, cfg in DEPTH_TO_CONFIG.items():
        m = _meta(models.vgg, config=depth)
        assert sum(isinstance(l, (nn.Conv2d, nn.Linear)) for l in m.modules()) == depth
        assert count_params(m) == count_params(_meta(models.vgg, config=cfg))
        assert sum(c == "M" for c in CONFIGS[cfg]) == 5
    assert count_params(_meta(models.vgg, config="D", batch_norm=True)) == PARAMS["vgg16_bn"]
    small = models.vgg("A", batch_norm=True, num_classes=10, in_channels=1, width=0.25, small_input=True).eval()
    assert small.classifier[0].in_features == 128 and small.classifier[0].out_features == 128
    assert small(torch.randn(2, 1, 32, 32)).shape == (2, 10)
    assert small.linear_std is None and _meta(models.vgg16).linear_std == 0.01  # He init for narrow heads
    custom = models.vgg([8, "M", 16, "M"], num_classes=3, small_input=True, hidden=12)
    assert custom(torch.randn(1, 3, 4, 4)).shape == (1, 3) and custom.min_input_size == 4
    with pytest.raises(ValueError, match="depths"):
        models.vgg(12)
    with pytest.raises(ValueError, match="configuration"):
        models.vgg("C")
    with pytest.raises(ValueError, match="channel"):
        models.vgg([8, "P"])


# --- input sizes ------------------------------------------------------------------------------------------------

def test_minimum_input_sizes_are_tight():
    alex, vgg = models.alexnet().eval(), models.vgg("A", width=0.125).eval()
    assert (alex.min_input_size, vgg.min_input_size) == (63, 32)
    with torch.no_grad():
        alex(torch.randn(1, 3, 63, 63))
        vgg(torch.randn(1, 3, 32, 32))
        with pytest.raises(RuntimeError):  # torchvision's AlexNet really fails one pixel below
            tvm.alexnet().eval()(torch.randn(1, 3, 62, 62))
        with pytest.raises(ValueError, match="at least 63×63"):
            alex(torch.randn(1, 3, 62, 62))
        with pytest.raises(ValueError, match="at least 32×32"):
            vgg(torch.randn(1, 3, 31, 40))
        with pytest.raises(ValueError, match="alexnet_paper needs inputs of at least 63×63"):
            models.alexnet_paper()(torch.randn(1, 3, 32, 32))


def test_min_input_size_rule():
    assert min_input_size([]) == 1
    assert min_input_size([nn.Conv2d(1, 1, 5)]) == 5
    assert min_input_size([nn.Conv2d(1, 1, 3, padding=1), nn.MaxPool2d(2)]) == 2
    assert min_input_size([nn.Conv2d(1, 1, 3, dilation=2), nn.ReLU(), nn.AvgPool2d(3, stride=2)]) == 7
    with pytest.raises(ValueError, match="ceil_mode"):
        min_input_size([nn.MaxPool2d(3, 2, ceil_mode=True)])
    with pytest.raises(ValueError, match="N×C×H×W"):
        check_input_size(torch.zeros(3, 32, 32), 32, "m")


# --- pretrained weights -----------------------------------------------------------------------------------------

def test_resolve_weights_accepts_every_spelling():
    member = tvm.VGG16_Weights.IMAGENET1K_V1
    for spelling in ("DEFAULT", "IMAGENET1K_V1", "VGG16_Weights.IMAGENET1K_V1", member):
        assert W.resolve_weights("vgg16", spelling) is member
    assert W.resolve_weights("vgg16", None) is None
    with pytest.raises(ValueError, match="IMAGENET1K_V1"):
        W.resolve_weights("vgg16", "IMAGENET22K")
    with pytest.raises(TypeError, match="VGG16_Weights"):
        W.resolve_weights("vgg16", tvm.AlexNet_Weights.DEFAULT)


def test_weights_with_other_num_classes_is_a_clear_error(offline):
    with pytest.raises(ValueError, match="1000 classes but num_classes=10"):
        models.alexnet(weights="DEFAULT", num_classes=10)
    with pytest.raises(ValueError, match="1000 classes"):
        models.vgg16_bn(weights=tvm.VGG16_BN_Weights.DEFAULT, num_classes=2)
    assert not offline  # rejected before any download was tried


@pytest.mark.parametrize("builder, file", [("alexnet", "alexnet-owt-7be5be79.pth"), ("vgg16", "vgg16-397923af.pth")])
def test_offline_without_the_file_names_file_folder_and_fixes(hub_dir, offline, builder, file):
    with pytest.raises(W.WeightsUnavailableError) as info:
        getattr(models, builder)(weights="DEFAULT")
    assert isinstance(info.value, DataUnavailableError)
    message = str(info.value)
    assert file in message and str(hub_dir) in message
    assert "connect to the internet" in message and "copy" in message and "tiny" in message
    assert "URLError" in message
    url, hash_prefix = offline[0]
    assert url.endswith(file) and hash_prefix == file.rsplit("-", 1)[1].split(".")[0]  # check_hash was on


def test_weights_load_through_torch_hub_from_the_cache(hub_dir, offline):
    """The real path: torchvision's enum → torch.hub.load_state_dict_from_url → a file in the hub cache.

    torch.hub verifies the SHA-256 prefix in the file name only when it downloads; a file already cached is loaded
    as it is. So a torchvision-format state dict written under the official name is loaded with check_hash=True.
    """
    reference = tvm.alexnet().eval()
    path = W.weights_file(tvm.AlexNet_Weights.IMAGENET1K_V1)
    assert path == hub_dir / "alexnet-owt-7be5be79.pth"
    hub_dir.mkdir(parents=True)
    torch.save(reference.state_dict(), path)
    ours = models.alexnet(weights="IMAGENET1K_V1", progress=False).eval()
    assert not offline  # nothing was downloaded
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        assert torch.equal(ours(x), reference(x))


def test_a_broken_cached_file_says_so(hub_dir, offline):
    hub_dir.mkdir(parents=True)
    (hub_dir / "alexnet-owt-7be5be79.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(W.WeightsUnavailableError, match="could not be loaded.*delete it"):
        models.alexnet(weights="DEFAULT")
