"""Every registered course model works with PyTorch's own tools, refuses bad input clearly, and matches its twin's
metadata. The tests run over `models.list_models()`, so each builder a later chapter registers is checked too."""

from __future__ import annotations

import pytest
import torch
import torchvision.models as tvm
from torch import nn
from torchvision.models.feature_extraction import create_feature_extractor, get_graph_node_names

from cnncourse import models
from cnncourse.models import registry

NAMES = models.list_models()
TORCHVISION_TWINS = [n for n in NAMES if models.model_info(n).twin_library == "torchvision"]


def _meta(name: str) -> nn.Module:
    with torch.device("meta"):
        return models.get_model(name).eval()


def _input(name: str, batch: int = 2, size: int | None = None) -> torch.Tensor:
    c, h, w = models.model_info(name).input_size
    return torch.empty(batch, c, size or h, size or w, device="meta")


def test_the_registry_holds_the_chapters_models_in_order():
    assert {"lenet5", "alexnet", "alexnet_paper", "vgg16_bn", "nin"} <= set(NAMES)
    chapters = [models.model_info(n).chapter for n in NAMES]
    assert chapters == sorted(chapters)
    assert models.list_models(chapter=4) == ["alexnet", "alexnet_paper"]
    assert models.get_model("nin", num_classes=7, width=0.25)(torch.randn(1, 3, 32, 32)).shape == (1, 7)
    with pytest.raises(ValueError, match="no course model is named 'resnet9000'.*lenet5"):
        models.get_model("resnet9000")


def test_register_model_refuses_duplicates_and_unknown_twins():
    with pytest.raises(ValueError, match="already registered"):
        registry.register_model(chapter=3)(models.lenet5)
    with pytest.raises(ValueError, match="twin must be"):
        registry.register_model(chapter=3, twin="keras")
    info = registry.ModelInfo("x", models.nin, 6, (3, 32, 32), "timm:inception_v4")
    assert (info.twin_library, info.twin_name) == ("timm", "inception_v4")
    assert (models.model_info("vgg16").twin_library, models.model_info("vgg16").twin_name) == ("torchvision", "vgg16")


def test_published_top1_comes_from_torchvisions_metadata():
    assert models.model_info("alexnet").published_top1 == tvm.AlexNet_Weights.DEFAULT.meta["_metrics"]["ImageNet-1K"]["acc@1"]
    assert models.model_info("vgg16_bn").published_top1 == 73.36
    assert models.model_info("lenet5").published_top1 is None  # a course-only model has no published number


@pytest.mark.parametrize("name", NAMES)
def test_fx_symbolic_trace_and_feature_extraction(name):
    model, x = _meta(name), _input(name)
    traced = torch.fx.symbolic_trace(model)
    assert traced(x).shape == model(x).shape
    last = get_graph_node_names(model)[1][-1]
    features = create_feature_extractor(model, return_nodes={last: "out"})
    assert features(x)["out"].shape == model(x).shape


@pytest.mark.parametrize("name", NAMES)
def test_torch_compile_captures_one_graph(name):
    torch._dynamo.reset()
    model, x = _meta(name), _input(name)
    compiled = torch.compile(model, backend="eager", fullgraph=True)  # fullgraph: a graph break is an error
    assert compiled(x).shape == model(x).shape


@pytest.mark.parametrize("name", NAMES)
def test_input_checks(name):
    model = _meta(name)
    minimum = model.min_input_size
    assert isinstance(minimum, int) and minimum >= 1
    model(_input(name, size=minimum))  # the smallest accepted size really runs (shapes only, on meta)
    with pytest.raises(ValueError, match=r"unbatched image of shape \(.*\).*x\.unsqueeze\(0\)"):
        model(_input(name)[0])
    if minimum > 1:
        with pytest.raises(ValueError, match=f"{minimum}×{minimum}"):
            model(_input(name, size=minimum - 1))


@pytest.mark.parametrize("name", TORCHVISION_TWINS)
def test_min_input_size_and_state_dict_match_torchvision(name):
    ours = _meta(name)
    weights = tvm.get_model_weights(name).DEFAULT
    assert ours.min_input_size == weights.meta["min_size"][0] == weights.meta["min_size"][1]
    with torch.device("meta"):
        theirs = tvm.get_model(name)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in theirs.state_dict().items()}


def test_an_unbatched_image_is_a_clear_error_not_a_wrong_shape():
    """nin used to answer a (3, 32, 32) image with a (10, 1) tensor; now it says what to do."""
    model = models.nin(width=0.25).eval()
    image = torch.randn(3, 32, 32)
    with pytest.raises(ValueError, match="unbatched"):
        model(image)
    assert model(image.unsqueeze(0))[0].shape == (10,)
