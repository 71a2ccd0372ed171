"""GoogLeNet and Inception-v3 (chapters 07, 09): torchvision compatibility, auxiliary heads, sizes, weights."""

from __future__ import annotations

import importlib
import warnings

import pytest
import torch
import torch.nn.functional as F
import torchvision.models as tvm
from torch import nn
from torchvision.models.feature_extraction import create_feature_extractor

from cnncourse import models, train
from cnncourse.data import DataUnavailableError
from cnncourse.models import weights as W

# the package exports the builders under the modules' names (as torchvision does), so fetch the modules themselves
G = importlib.import_module("cnncourse.models.googlenet")
I = importlib.import_module("cnncourse.models.inception")  # noqa: E741
from cnncourse.profile import count_params
from twins import meta_model as _meta, randomise as _randomise, hub_dir, offline  # noqa: F401  (pytest fixtures)

PARAMS = {"googlenet": (13_004_888, 6_624_904), "inception_v3": (27_161_264, 23_834_568)}  # with / without aux
FILES = {"googlenet": "googlenet-1378be20.pth", "inception_v3": "inception_v3_google-0cc3c7bd.pth"}
SIZES = {"googlenet": 64, "inception_v3": 80}  # small enough to be quick, large enough for every layer
OURS = ["googlenet", "googlenet_small", "inception_v3", "inception_v3_small"]


def _random_torchvision(name: str, **kwargs) -> nn.Module:
    with torch.device("meta"):
        model = tvm.get_model(name, init_weights=False, **kwargs)
    return _randomise(model.to_empty(device="cpu")).eval()


# --- torchvision compatibility ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["googlenet", "inception_v3"])
@pytest.mark.parametrize("aux", [True, False])
def test_keys_shapes_and_parameter_counts_match_torchvision(name, aux):
    ours = _meta(getattr(models, name), aux_logits=aux)
    theirs = _meta(tvm.get_model, name=name, aux_logits=aux, init_weights=False)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in theirs.state_dict().items()}
    assert count_params(ours) == count_params(theirs) == PARAMS[name][0 if aux else 1]


def test_parameter_counts_are_torchvisions_metadata():
    assert PARAMS["googlenet"][1] == tvm.GoogLeNet_Weights.DEFAULT.meta["num_params"]  # published without aux
    assert PARAMS["inception_v3"][0] == tvm.Inception_V3_Weights.DEFAULT.meta["num_params"]  # published with aux


@pytest.mark.parametrize("name", ["googlenet", "inception_v3"])
@pytest.mark.parametrize("transform", [False, True])
def test_same_eval_outputs_as_torchvision(name, transform):
    theirs = _random_torchvision(name, transform_input=transform)
    ours = _meta(getattr(models, name), transform_input=transform)
    x = torch.randn(2, 3, SIZES[name], SIZES[name], generator=torch.Generator().manual_seed(1))
    report = models.check_twin(ours, theirs, x, assign=True)
    assert report.ok, str(report)
    assert report.output_shapes == [(2, 1000)]


@pytest.mark.parametrize("name, size", [("googlenet", 64), ("inception_v3", 299)])
def test_auxiliary_heads_equal_torchvision_in_training_mode(name, size):
    theirs = _random_torchvision(name)
    ours = _meta(getattr(models, name))
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(2))
    report = models.check_twin(ours, theirs, x, assign=True, train=True)  # same dropout masks, batch statistics
    assert report.ok, str(report)
    assert len(report.output_shapes) == (3 if name == "googlenet" else 2)
    ours.train()
    with torch.no_grad():
        out = ours(x)
    assert type(out).__name__ == ("GoogLeNetOutputs" if name == "googlenet" else "InceptionOutputs")
    assert out._fields == theirs.train()(x)._fields  # same field names, in the same order
    ours.eval()
    with torch.no_grad():
        assert isinstance(ours(x), torch.Tensor)  # the heads are skipped at inference


def test_twin_comparison_fails_for_a_wrong_block():
    """The comparison can fail: swap two branches of one Inception module and the outputs differ."""
    theirs = _random_torchvision("googlenet")
    ours = _meta(models.googlenet)
    block = ours.inception3a
    block.forward = lambda x: torch.cat([block.branch2(x), block.branch1(x), block.branch3(x), block.branch4(x)], 1)
    x = torch.randn(1, 3, 64, 64)
    assert not models.check_twin(ours, theirs, x, assign=True).ok


def test_five_by_five_is_the_papers_branch_and_its_cost():
    paper = _meta(models.googlenet, aux_logits=False, five_by_five=True)
    extra = sum(red * out * (25 - 9) for _, _, _, red, out, _ in G.INCEPTION_V1.values())
    assert count_params(paper) - PARAMS["googlenet"][1] == extra
    assert paper.inception4a.branch3[1].conv.kernel_size == (5, 5)
    with pytest.raises(RuntimeError, match="size mismatch"):
        paper.load_state_dict(_meta(tvm.googlenet, aux_logits=False, init_weights=False).state_dict(), assign=True)
    with torch.no_grad():
        paper_net = models.googlenet(aux_logits=False, five_by_five=True).eval()
        assert paper_net(torch.randn(1, 3, 64, 64)).shape == (1, 1000)


def test_initialisation_is_torchvisions_truncated_normal():
    torch.manual_seed(0)
    pairs = [(models.googlenet(), tvm.googlenet(init_weights=True)), (models.inception_v3(), tvm.inception_v3())]
    for ours, theirs in pairs:
        theirs_params = dict(theirs.named_parameters())
        for name, p in ours.named_parameters():  # every layer has torchvision's spread (0.01, 0.1, or 0.001)
            if p.numel() > 5000:
                assert abs(p.std().item() / theirs_params[name].std().item() - 1) < 0.1, name
    assert abs(pairs[1][0].AuxLogits.fc.weight.std().item() - 0.001) < 0.0002  # the layer with its own stddev
    assert abs(pairs[1][0].AuxLogits.conv1.conv.weight.std().item() - 0.1) < 0.01  # torchvision's dead 0.01
    plain = models.googlenet(init_weights=False, aux_logits=False)  # PyTorch's default (kaiming uniform) instead
    assert abs(plain.inception4e.branch2[1].conv.weight.std().item() - 0.01) > 0.002


# --- input sizes --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["googlenet", "inception_v3"])
def test_min_input_size_is_torchvisions_and_true(name):
    model = getattr(models, name)(aux_logits=False).eval()
    minimum = model.min_input_size
    expected = {"googlenet": 15, "inception_v3": 75}[name]
    assert minimum == tvm.get_model_weights(name).DEFAULT.meta["min_size"][0] == expected
    reference = tvm.get_model(name, aux_logits=False, init_weights=False).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, minimum, minimum)).shape == (1, 1000)
        with pytest.raises(RuntimeError):  # torchvision's model really fails one pixel below
            reference(torch.randn(1, 3, minimum - 1, minimum - 1))
        with pytest.raises(ValueError, match=f"at least {minimum}×{minimum}"):
            model(torch.randn(1, 3, minimum - 1, minimum + 10))
        with pytest.raises(ValueError, match="unbatched"):
            model(torch.randn(3, 224, 224))


def test_inception_v3_training_mode_needs_299_for_its_auxiliary_head():
    model = models.inception_v3(init_weights=False)
    assert model.min_train_input_size == 299
    reference = tvm.inception_v3(init_weights=False).train()
    x = torch.randn(2, 3, 298, 298)
    with torch.no_grad():
        with pytest.raises(RuntimeError):  # torchvision's auxiliary head fails there, deep inside
            reference(x)
        with pytest.raises(ValueError, match="training mode.*at least 299×299"):
            model.train()(x)
        model.eval()(x[:, :, :80, :80])  # eval mode skips the head: 75 is enough
        model.remove_aux()
        assert model.train()(x[:, :, :80, :80]).shape == (2, 1000)  # no head, no extra demand


@pytest.mark.parametrize("name", ["googlenet_small", "inception_v3_small"])
def test_small_variants_minimum_is_true(name, monkeypatch):
    model = getattr(models, name)(num_classes=7, in_channels=1).eval()
    minimum = model.min_input_size
    assert minimum == {"googlenet_small": 8, "inception_v3_small": 15}[name]
    with torch.no_grad():
        assert model(torch.randn(2, 1, 32, 32)).shape == (2, 7)
        assert model(torch.randn(2, 1, minimum, minimum)).shape == (2, 7)
        with pytest.raises(ValueError, match=f"at least {minimum}×{minimum}"):
            model(torch.randn(2, 1, minimum - 1, minimum - 1))
        module = G if name.startswith("googlenet") else I
        monkeypatch.setattr(module, "check_input_size", lambda *args, **kwargs: None)
        with pytest.raises(RuntimeError):  # without the check PyTorch itself fails: the minimum is not too strict
            model(torch.randn(2, 1, minimum - 1, minimum - 1))


def test_smallest_input_follows_pytorchs_ceil_mode_rule():
    """Random stacks of convolutions and ceil-mode poolings: the computed minimum is where PyTorch starts working."""
    gen = torch.Generator().manual_seed(3)
    for _ in range(25):
        layers = []
        for _ in range(int(torch.randint(1, 5, (1,), generator=gen))):
            k, s = int(torch.randint(1, 5, (1,), generator=gen)), int(torch.randint(1, 4, (1,), generator=gen))
            p = int(torch.randint(0, k // 2 + 1, (1,), generator=gen))
            if torch.rand(1, generator=gen) < 0.5:
                layers.append(nn.Conv2d(1, 1, k, stride=s, padding=p))
            else:
                ceil = bool(torch.rand(1, generator=gen) < 0.7)
                layers.append(nn.MaxPool2d(k, stride=s, padding=p, ceil_mode=ceil))
        net = nn.Sequential(*layers)

        def works(size: int) -> bool:
            try:
                net(torch.zeros(1, 1, size, size))
                return True
            except RuntimeError:
                return False

        minimum = G.smallest_input(layers)
        assert works(minimum) and (minimum == 1 or not works(minimum - 1)), layers


# --- the small variants and the auxiliary loss ----------------------------------------------------------------------

def test_small_variants_shapes_aux_and_arguments():
    g = models.googlenet_small(num_classes=10, in_channels=1, width=0.125).train()
    x = torch.randn(4, 1, 32, 32)
    out = g(x)
    assert [tuple(t.shape) for t in out] == [(4, 10)] * 3
    assert count_params(models.googlenet_small(aux_logits=False)) < count_params(models.googlenet_small())
    assert g.conv1.conv.kernel_size == (3, 3) and g.conv1.conv.stride == (1, 1)
    v3 = models.inception_v3_small(num_classes=10, width=0.0625).train()
    assert isinstance(v3(x), torch.Tensor)  # no auxiliary head
    kinds = [type(m).__name__ for m in v3.children()]
    for block in ("InceptionA", "InceptionB", "InceptionC", "InceptionD", "InceptionE"):
        assert kinds.count(block) == 1
    full = models.inception_v3_small(blocks=(3, 4, 2))
    assert [type(m).__name__ for m in full.children()].count("InceptionC") == 4
    with pytest.raises(ValueError, match="auxiliary head"):
        I.Inception3(num_classes=10, small_input=True, width=0.1)
    with pytest.raises(ValueError, match="blocks"):
        models.inception_v3_small(blocks=(0, 1, 1))
    with pytest.raises(ValueError, match="in_channels=3"):
        G.GoogLeNet(transform_input=True, in_channels=1)
    with pytest.raises(ValueError, match="width"):
        models.googlenet_small(width=0)


def test_aux_loss_adds_the_heads_with_weight_0_3():
    logits, aux2, aux1 = torch.randn(3, 5, 5).unbind(0)
    y = torch.tensor([0, 3, 4, 1, 2])
    expected = F.cross_entropy(logits, y) + 0.3 * (F.cross_entropy(aux1, y) + F.cross_entropy(aux2, y))
    torch.testing.assert_close(G.aux_loss(G.GoogLeNetOutputs(logits, aux2, aux1), y), expected)
    torch.testing.assert_close(G.aux_loss(logits, y), F.cross_entropy(logits, y))
    torch.testing.assert_close(G.aux_loss(I.InceptionOutputs(logits, None), y), F.cross_entropy(logits, y))
    torch.testing.assert_close(G.aux_loss((logits, aux1), y, aux_weight=1.0),
                               F.cross_entropy(logits, y) + F.cross_entropy(aux1, y))


def test_fit_trains_the_auxiliary_heads_through_aux_loss():
    torch.manual_seed(0)
    model = models.googlenet_small(num_classes=3, width=0.125)
    x, y = torch.randn(8, 1, 16, 16), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=4)
    before = model.aux1.fc2.weight.detach().clone()
    train.fit(model, loader, 1, loss_fn=G.aux_loss, device="cpu", verbose=False, lr=0.1)
    assert not torch.equal(before, model.aux1.fc2.weight)  # the head received gradients


# --- registration, and tracing in training mode (tests/test_models_registry.py covers eval mode) ----------------------

@pytest.mark.parametrize("name", OURS)
def test_registered_and_traceable_in_training_mode(name):
    info = models.model_info(name)
    assert info.chapter == (7 if name.startswith("googlenet") else 9)
    assert info.twin == ("torchvision" if not name.endswith("_small") else None)
    model = _meta(info.builder).train()  # the auxiliary heads run: the output is a namedtuple
    x = torch.zeros(2, *info.input_size, device="meta")
    assert len(torch.fx.symbolic_trace(model)(x)) == len(model(x))
    extractor = create_feature_extractor(model, return_nodes={"avgpool": "pooled"})
    assert extractor(x)["pooled"].shape[:2] == (2, model.fc.in_features)


# --- pretrained weights -----------------------------------------------------------------------------------------

def _write_official_file(name: str, hub_dir) -> nn.Module:
    """A torchvision model with random weights, saved in the hub cache under its official file name."""
    reference = _random_torchvision(name, aux_logits=True)
    path = W.weights_file(tvm.get_model_weights(name).DEFAULT)
    assert path == hub_dir / FILES[name]
    hub_dir.mkdir(parents=True, exist_ok=True)
    torch.save(reference.state_dict(), path)
    return reference


@pytest.mark.parametrize("name", ["googlenet", "inception_v3"])
def test_weights_load_from_the_cache_like_torchvisions_builder(hub_dir, offline, name):
    _write_official_file(name, hub_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = tvm.get_model(name, weights="DEFAULT").eval()  # torchvision's own builder, same cached file
    ours = getattr(models, name)(weights="DEFAULT", progress=False).eval()
    assert not offline  # nothing was downloaded
    assert ours.transform_input and theirs.transform_input  # the weights want [-1, 1] pixels
    assert ours.state_dict().keys() == theirs.state_dict().keys()  # googlenet: heads dropped; inception: kept
    assert (name == "inception_v3") == (ours.aux_logits and any("Aux" in k for k in ours.state_dict()))
    x = torch.randn(2, 3, SIZES[name], SIZES[name])
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), rtol=1e-4, atol=1e-5)


def test_googlenet_weights_keep_the_untrained_heads_only_when_asked(hub_dir, offline):
    _write_official_file("googlenet", hub_dir)
    with pytest.warns(UserWarning, match="NOT pretrained"):
        model = models.googlenet(weights="DEFAULT", aux_logits=True)
    assert model.aux1 is not None and count_params(model) == PARAMS["googlenet"][0]
    assert not models.googlenet(weights="DEFAULT", transform_input=False).transform_input  # given: kept


@pytest.mark.parametrize("name", ["googlenet", "inception_v3"])
@pytest.mark.parametrize("bad", [{"aux_logits": False}, {"init_weights": True}, {"num_classes": 10}])
def test_arguments_that_contradict_the_weights_are_refused_like_torchvision(offline, name, bad):
    with pytest.raises(ValueError):
        tvm.get_model(name, weights="DEFAULT", **bad)  # torchvision refuses them too
    with pytest.raises(ValueError, match="1000 classes" if "num_classes" in bad else "these weights need"):
        getattr(models, name)(weights="DEFAULT", **bad)
    assert not offline  # refused before any download was tried


@pytest.mark.parametrize("name", ["googlenet", "inception_v3"])
def test_offline_without_the_file_names_file_folder_and_fixes(hub_dir, offline, name):
    with pytest.raises(W.WeightsUnavailableError) as info:
        getattr(models, name)(weights="DEFAULT")
    assert isinstance(info.value, DataUnavailableError)
    message = str(info.value)
    assert FILES[name] in message and str(hub_dir) in message
    assert "connect to the internet" in message and "tiny" in message
    url, hash_prefix = offline[0]
    assert url.endswith(FILES[name]) and hash_prefix == FILES[name].rsplit("-", 1)[1].split(".")[0]


def test_weights_of_another_model_are_refused():
    with pytest.raises(TypeError, match="GoogLeNet_Weights"):
        models.googlenet(weights=tvm.Inception_V3_Weights.DEFAULT)
    with pytest.raises(ValueError, match="IMAGENET1K_V1"):
        models.inception_v3(weights="IMAGENET1K_V2")
