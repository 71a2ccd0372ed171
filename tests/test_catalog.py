"""`catalog`: the closing table of chapter 14 and chapter 00's chart, read from the model registry."""

import pytest
import torch
import torchvision.models as tvm

from cnncourse import catalog, models, profile


@pytest.fixture(scope="module")
def rows():
    return catalog.catalog()


def test_every_imagenet_model_of_the_registry_and_nothing_else(rows):
    names = [r.name for r in rows]
    assert names == catalog.imagenet_models()
    assert {"alexnet", "vgg16", "efficientnet_b0", "efficientnet_b7"} <= set(names)
    assert not {"lenet5", "nin"} & set(names)  # small-image models are not ImageNet models
    assert [r.chapter for r in rows] == sorted(r.chapter for r in rows)
    for r in rows:
        info = models.model_info(r.name)
        assert (r.chapter, r.twin, r.input_size) == (info.chapter, info.twin, info.input_size[-1])


def test_every_row_is_measured_at_its_registered_size(rows):
    by_name = {r.name: r for r in rows}
    assert by_name["inception_v3"].input_size == 299 and by_name["vgg16"].input_size == 224
    assert by_name["efficientnet_b7"].input_size == 600
    b0 = by_name["efficientnet_b0"]
    with torch.device("meta"):
        model = models.efficientnet_b0()
    assert b0.params == b0.stored_params == 5_288_548
    assert b0.flops == profile.count_flops(model, (1, 3, 224, 224))
    assert by_name["googlenet"].params == 6_624_904 < by_name["googlenet"].stored_params  # aux heads not used


def test_top1_comes_from_the_twins_weights(rows):
    by_name = {r.name: r for r in rows}
    resnet50 = by_name["resnet50"]
    assert resnet50.weights == "IMAGENET1K_V1"
    assert resnet50.top1 == tvm.ResNet50_Weights.IMAGENET1K_V1.meta["_metrics"]["ImageNet-1K"]["acc@1"]
    assert by_name["alexnet_paper"].top1 is None and by_name["alexnet_paper"].weights is None  # course-only
    for r in rows:
        assert (r.top1 is None) == (models.model_info(r.name).twin_library != "torchvision")
    # "DEFAULT" gives what the registry publishes (for ResNet-50 the 2021 recipe's weights)
    assert catalog.published_top1("resnet50", "DEFAULT") == (models.model_info("resnet50").published_top1,
                                                             "IMAGENET1K_V2")


def test_every_model_has_a_year():
    assert all(catalog.model_year(n) is not None for n in models.list_models()), "add the family to catalog.YEARS"
    assert catalog.model_year("resnext50_32x4d") == 2016 and catalog.model_year("resnet50") == 2015
    assert catalog.model_year("efficientnet_b3") == 2019 and catalog.model_year("transformer") is None


def test_format_catalog_has_one_line_per_row(rows):
    text = catalog.format_catalog(rows[:3] + [r for r in rows if r.top1 is None][:1])
    lines = text.splitlines()
    assert len(lines) == 5 and lines[0].startswith("model")
    assert "56.52" in lines[1] and "torchvision IMAGENET1K_V1" in lines[1]
    assert "—" in lines[-1]


def test_chart_labels_every_model_with_an_accuracy(rows):
    import matplotlib

    matplotlib.use("Agg")
    fig = catalog.chart(rows)
    ax = fig.axes[0]
    ranked = [r.name for r in rows if r.top1 is not None]
    assert sorted(t.get_text() for t in ax.texts) == sorted(ranked)
    assert "IMAGENET1K_V1" in ax.get_ylabel() and ax.get_xscale() == "log"
    with pytest.raises(ValueError, match="published"):
        catalog.chart([r for r in rows if r.top1 is None])
