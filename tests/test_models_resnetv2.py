"""BiT's ResNetV2 (chapter 13): timm twins through the key map, parameter counts, the original .npz weights (loaded
like timm's own loader loads them), and their download (cached, checked, never half-written, clear offline)."""

from __future__ import annotations

import base64
import hashlib
import io
import urllib.error
import urllib.request
from functools import partial

import numpy as np
import pytest
import timm
import torch
from timm.layers import StdConv2d as TimmStdConv2d
from timm.models.resnetv2 import ResNetV2 as TimmResNetV2
from torch import nn

from cnncourse import models
from cnncourse.models import resnetv2 as R
from cnncourse.models.weights import WeightsUnavailableError
from cnncourse.profile import count_params

BUILDERS = {"R50x1": "resnetv2_50x1_bit", "R50x3": "resnetv2_50x3_bit", "R101x1": "resnetv2_101x1_bit",
            "R101x3": "resnetv2_101x3_bit", "R152x2": "resnetv2_152x2_bit", "R152x4": "resnetv2_152x4_bit"}


def _randomise(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random convolution weights, GroupNorm scales around 1 and shifts around 0, a random head."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for key, t in model.state_dict().items():
            if t.dim() > 1:
                t.normal_(0, 1 / t[0].numel() ** 0.5, generator=gen)
            elif key.endswith("weight"):
                t.uniform_(0.5, 1.5, generator=gen)
            else:
                t.uniform_(-0.3, 0.3, generator=gen)
    return model


def _timm(variant: str, num_classes: int = 10, meta: bool = False) -> nn.Module:
    name = BUILDERS[variant]
    if meta:
        with torch.device("meta"):
            return timm.create_model(name, num_classes=num_classes)
    with torch.device("meta"):
        model = timm.create_model(name, num_classes=num_classes)
    return _randomise(model.to_empty(device="cpu")).eval()


def _small_timm(num_classes: int = 7) -> nn.Module:
    """A small BiT-style ResNetV2 of timm (one block per stage, narrow), random weights."""
    model = TimmResNetV2([1, 2, 1, 1], channels=(128, 256, 512, 1024), stem_chs=32, num_classes=num_classes,
                         stem_type="fixed", conv_layer=partial(TimmStdConv2d, eps=1e-8))
    return _randomise(model).eval()


def _small_ours(num_classes: int = 7, **kwargs) -> R.ResNetV2:
    return R.ResNetV2((1, 2, 1, 1), 1, num_classes, widths=(32, 64, 128, 256), stem_width=32, eps=1e-8, **kwargs)


# --- architecture and timm twins -----------------------------------------------------------------------------------

@pytest.mark.parametrize("variant", list(BUILDERS))
def test_key_map_turns_timms_state_dict_into_ours_one_to_one(variant):
    with torch.device("meta"):
        ours = getattr(models, BUILDERS[variant])(num_classes=10)
    theirs = _timm(variant, meta=True).state_dict()
    mapped = R.timm_to_resnetv2(theirs)
    assert len(mapped) == len(theirs)
    assert {k: v.shape for k, v in mapped.items()} == {k: v.shape for k, v in ours.state_dict().items()}
    assert count_params(ours) == sum(v.numel() for v in theirs.values())
    assert models.model_info(BUILDERS[variant]).twin == f"timm:{BUILDERS[variant]}"
    assert models.model_info(BUILDERS[variant]).chapter == 13


def test_r50x1_with_a_10_class_head_has_23_520_842_parameters():
    with torch.device("meta"):
        model = models.resnetv2_bit("R50x1", 10)
    assert count_params(model) == 23_520_842
    layers, width = R.BIT_VARIANTS["R152x4"]
    assert (layers, width) == ((3, 8, 36, 3), 4)


def test_same_outputs_as_timm_given_the_same_weights():
    """R50x1: exactly the same function in float64; in float32 they differ by rounding (timm standardises the
    weights with F.batch_norm, we with var_mean). timm's BiT models use eps 1e-8, hence eps=1e-8 here."""
    reference = _timm("R50x1")
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    report = models.check_twin(models.resnetv2_bit("R50x1", 10, eps=1e-8), reference, x,
                               key_map=R.timm_to_resnetv2, tolerance=1e-4)
    assert report.ok, report
    exact = models.check_twin(models.resnetv2_bit("R50x1", 10, eps=1e-8).double(), reference.double(), x.double(),
                              key_map=R.timm_to_resnetv2, tolerance=1e-10)
    assert exact.ok, exact
    # the original code's eps (our default) is a slightly different function
    default = models.check_twin(models.resnetv2_bit("R50x1", 10).double(), reference.double(), x.double(),
                                key_map=R.timm_to_resnetv2, tolerance=1e-10)
    assert not default.ok and default.max_abs_diff < 1e-2


def test_a_small_resnetv2_matches_timm_too():
    report = models.check_twin(_small_ours(), _small_timm(), torch.randn(2, 3, 40, 40), key_map=R.timm_to_resnetv2,
                               tolerance=1e-4)
    assert report.ok, report


def test_zero_head_and_stem():
    model = models.resnetv2_bit("R50x1", 10).eval()
    assert not model.fc.weight.any() and not model.fc.bias.any()
    assert torch.equal(model(torch.randn(2, 3, 32, 32)), torch.zeros(2, 10))
    assert models.resnetv2_bit("R50x1", 10, zero_head=False).fc.weight.any()
    assert isinstance(model.pad, nn.ConstantPad2d) and model.maxpool.padding == 0  # BiT's stem, not padding=1
    assert model.min_input_size == 1 and model(torch.randn(1, 3, 1, 1)).shape == (1, 10)
    assert all(isinstance(m, nn.GroupNorm) and m.num_groups == 32 for m in model.modules()
               if isinstance(m, (nn.GroupNorm, nn.BatchNorm2d)))
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert all(type(m).__name__ == "StdConv2d" and m.eps == 1e-10 for m in convs)
    with pytest.raises(ValueError, match="no variant 'R18x1'"):
        models.resnetv2_bit("R18x1", 10)


def test_pre_activation_unit_passes_its_input_through_when_its_last_conv_is_zero():
    block = R.PreActBottleneck(128, 32).eval()
    nn.init.zeros_(block.conv3.weight)
    x = torch.randn(2, 128, 5, 5)  # negative values too: nothing after the addition clips them
    assert torch.equal(block(x), x)


def test_norm_and_conv_can_be_swapped_for_batchnorm():
    model = R.ResNetV2((1, 1), 1, 3, widths=(8, 16), stem_width=8, in_channels=1, small_input=True,
                       norm_layer=nn.BatchNorm2d, conv_layer=nn.Conv2d)
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert not any(isinstance(m, nn.GroupNorm) for m in model.modules())
    assert all(type(m) is nn.Conv2d for m in model.modules() if isinstance(m, nn.Conv2d))
    assert model(torch.randn(2, 1, 8, 8)).shape == (2, 3) and model.min_input_size == 1


# --- the original .npz layout --------------------------------------------------------------------------------------

def write_original_npz(path, layers, width_factor, head_classes, *, stem=64, widths=(64, 128, 256, 512), seed=0):
    """An .npz in BiT's own layout, written from its architecture (not from any loader's key map), random values."""
    rng = np.random.default_rng(seed)
    arrays = {}

    def conv(name, k, cin, cout):
        arrays[f"resnet/{name}standardized_conv2d/kernel"] = rng.normal(0, 0.1, (k, k, cin, cout)).astype(np.float32)

    def gn(name, c):
        arrays[f"resnet/{name}group_norm/gamma"] = rng.uniform(0.5, 1.5, c).astype(np.float32)
        arrays[f"resnet/{name}group_norm/beta"] = rng.uniform(-0.3, 0.3, c).astype(np.float32)

    cin = stem * width_factor
    conv("root_block/", 7, 3, cin)
    for b, (units, mid) in enumerate(zip(layers, widths), start=1):
        mid *= width_factor
        for u in range(1, units + 1):
            unit = f"block{b}/unit{u:02d}/"
            if u == 1:
                conv(unit + "a/proj/", 1, cin, 4 * mid)
            gn(unit + "a/", cin), conv(unit + "a/", 1, cin, mid)
            gn(unit + "b/", mid), conv(unit + "b/", 3, mid, mid)
            gn(unit + "c/", mid), conv(unit + "c/", 1, mid, 4 * mid)
            cin = 4 * mid
    gn("", cin)
    arrays["resnet/head/conv2d/kernel"] = rng.normal(0, 0.05, (1, 1, cin, head_classes)).astype(np.float32)
    arrays["resnet/head/conv2d/bias"] = rng.normal(0, 0.05, head_classes).astype(np.float32)
    np.savez(path, **arrays)
    return path


@pytest.fixture(scope="module")
def r50_npz(tmp_path_factory):
    """BiT-S-R50x1's layout (1,000-class head), random values: 102 MB, written once."""
    return write_original_npz(tmp_path_factory.mktemp("bit") / "BiT-S-R50x1.npz", (3, 4, 6, 3), 1, 1000)


@pytest.mark.parametrize("num_classes", [1000, 10])
def test_load_bit_npz_gives_what_timms_npz_loader_gives(r50_npz, num_classes):
    """timm's own loader (``ResNetV2.load_pretrained``) and ours read the same file into the same function; timm
    loads the head when its size fits, so do we; otherwise both keep their own head (ours: zero)."""
    reference = timm.create_model("resnetv2_50x1_bit", num_classes=num_classes)
    reference.load_pretrained(str(r50_npz))
    if num_classes != 1000:
        with torch.no_grad():
            reference.head.fc.weight.zero_(), reference.head.fc.bias.zero_()
    ours = R.load_bit_npz(models.resnetv2_bit("R50x1", num_classes, eps=1e-8), r50_npz)
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected, got = reference.eval()(x), ours.eval()(x)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
    assert got.abs().max() > 0.1 if num_classes == 1000 else not got.any()
    with torch.no_grad():  # the backbone itself, before any head
        torch.testing.assert_close(ours.features(x), reference.forward_head(reference.forward_features(x),
                                                                           pre_logits=True), rtol=1e-4, atol=1e-4)


def test_kernels_are_transposed_from_hwio_to_oihw(r50_npz):
    npz = np.load(r50_npz)
    model = R.load_bit_npz(models.resnetv2_bit("R50x1", 1000), r50_npz)
    kernel = npz["resnet/block2/unit01/b/standardized_conv2d/kernel"]  # 3×3×128×128, stride 2
    assert kernel.shape == (3, 3, 128, 128)
    assert torch.equal(model.layer2[0].conv2.weight[5, 7], torch.from_numpy(kernel[:, :, 7, 5]))
    assert torch.equal(model.layer3[0].downsample.weight[:, :, 0, 0].T,
                       torch.from_numpy(npz["resnet/block3/unit01/a/proj/standardized_conv2d/kernel"][0, 0]))
    assert torch.equal(model.layer4[2].norm3.bias, torch.from_numpy(npz["resnet/block4/unit03/c/group_norm/beta"]))
    assert torch.equal(model.fc.weight.T, torch.from_numpy(npz["resnet/head/conv2d/kernel"][0, 0]))
    assert R.hwio_to_oihw(np.zeros((7, 7, 3, 64))).shape == (64, 3, 7, 7)
    assert R.npz_key("layer1.0.norm2.weight") == "resnet/block1/unit01/b/group_norm/gamma"


def test_save_bit_npz_writes_the_original_layout_and_round_trips(tmp_path):
    original = write_original_npz(tmp_path / "a.npz", (1, 2, 1, 1), 1, 7, stem=32, widths=(32, 64, 128, 256))
    model = R.load_bit_npz(_small_ours(), original)
    copy = R.save_bit_npz(model, tmp_path / "b.npz")
    a, b = np.load(original), np.load(copy)
    assert sorted(a.files) == sorted(b.files)
    for key in a.files:
        np.testing.assert_array_equal(a[key], b[key])
    reference = _small_timm()  # and timm's loader reads what we wrote
    reference.load_pretrained(str(copy))
    x = torch.randn(2, 3, 40, 40)
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(x), reference(x), rtol=1e-4, atol=1e-4)


def test_head_is_loaded_only_when_it_fits_or_when_asked(tmp_path):
    path = write_original_npz(tmp_path / "w.npz", (1, 2, 1, 1), 1, 7, stem=32, widths=(32, 64, 128, 256))
    assert R.load_bit_npz(_small_ours(7), path).fc.weight.any()
    assert not R.load_bit_npz(_small_ours(7), path, head=False).fc.weight.any()
    assert not R.load_bit_npz(_small_ours(5), path).fc.weight.any()  # 7 classes in the file: a new head stays zero
    with pytest.raises(RuntimeError, match="size mismatch for fc.weight"):
        R.load_bit_npz(_small_ours(5), path, head=True)


def test_wrong_files_are_clear_errors(tmp_path):
    path = write_original_npz(tmp_path / "w.npz", (1, 2, 1, 1), 1, 7, stem=32, widths=(32, 64, 128, 256))
    with pytest.raises(RuntimeError, match="size mismatch for conv1.weight"):  # another width
        R.load_bit_npz(R.ResNetV2((1, 2, 1, 1), 1, 7, widths=(32, 64, 128, 256), stem_width=64), path)
    with pytest.raises(ValueError, match="no 'resnet/block1/unit02/a/group_norm/gamma' .for layer1.1.norm1.weight."):
        R.load_bit_npz(R.ResNetV2((2, 2, 1, 1), 1, 7, widths=(32, 64, 128, 256), stem_width=32), path)
    broken = tmp_path / "broken.npz"
    broken.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(WeightsUnavailableError, match="broken.npz .* not a readable .npz file.*delete it"):
        R.load_bit_npz(_small_ours(), broken)


# --- downloading the original files ----------------------------------------------------------------------------------

class FakeResponse(io.BytesIO):
    def __init__(self, body: bytes, length: int | None = None, md5: bytes | None = None):
        super().__init__(body)
        self.headers = {"Content-Length": str(len(body) if length is None else length)}
        digest = base64.b64encode(md5 or hashlib.md5(body).digest()).decode()
        self.headers["x-goog-hash"] = f"crc32c=AAAAAA==, md5={digest}"


@pytest.fixture
def server(monkeypatch):
    """urlopen answered from ``server["response"]`` (a callable); records the URLs asked for."""
    state = {"urls": []}

    def urlopen(url, timeout=None):
        state["urls"].append(url)
        return state["response"]()

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    return state


def test_download_goes_to_the_data_folder_and_is_then_cached(tmp_path, server):
    body = write_original_npz(tmp_path / "x.npz", (1, 1, 1, 1), 1, 3, stem=32, widths=(32, 32, 32, 32)).read_bytes()
    server["response"] = lambda: FakeResponse(body)
    path = R.bit_weights_file("BiT-M-R50x1", tmp_path / "data", progress=False)
    assert path == tmp_path / "data" / "bit" / "BiT-M-R50x1.npz" and path.read_bytes() == body
    assert server["urls"] == ["https://storage.googleapis.com/bit_models/BiT-M-R50x1.npz"]
    assert [p.name for p in path.parent.iterdir()] == ["BiT-M-R50x1.npz"]  # no .part left
    assert R.bit_weights_file("BiT-M-R50x1", tmp_path / "data") == path and len(server["urls"]) == 1  # cached


@pytest.mark.parametrize("damage", ["truncated", "md5"])
def test_a_bad_download_leaves_nothing_behind(tmp_path, server, damage):
    body = b"PK" + bytes(5000)
    if damage == "truncated":
        server["response"] = lambda: FakeResponse(body[:3000], length=len(body))
        match = "received 3,000 of 5,002 bytes"
    else:
        server["response"] = lambda: FakeResponse(body, md5=b"0" * 16)
        match = "MD5 differs"
    with pytest.raises(WeightsUnavailableError, match=match):
        R.bit_weights_file("BiT-S-R101x3", tmp_path, progress=False)
    assert list((tmp_path / "bit").iterdir()) == []


def test_offline_names_the_file_the_folder_and_the_fixes(tmp_path, server):
    def offline():
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    server["response"] = offline
    with pytest.raises(WeightsUnavailableError) as err:
        R.bit_weights_file("BiT-M-R50x1", tmp_path, progress=False)
    message = str(err.value)
    for part in ("BiT-M-R50x1.npz", str(tmp_path / "bit"), "https://storage.googleapis.com/bit_models/BiT-M-R50x1.npz",
                 "CNNCOURSE_MODE=tiny", "Temporary failure in name resolution", "connect to the internet"):
        assert part in message
    with pytest.raises(WeightsUnavailableError, match="missing from"):
        R.bit_weights_file("BiT-M-R50x1", tmp_path, download=False)
    with pytest.raises(ValueError, match="no weights named 'BiT-L-R152x4'"):
        R.bit_weights_file("BiT-L-R152x4", tmp_path)
    assert len(R.BIT_NAMES) == 12


def test_a_truncated_cached_file_is_refused(tmp_path, server):
    folder = tmp_path / "bit"
    folder.mkdir()
    whole = write_original_npz(tmp_path / "w.npz", (1, 1, 1, 1), 1, 3, stem=32, widths=(32, 32, 32, 32)).read_bytes()
    (folder / "BiT-M-R50x1.npz").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(WeightsUnavailableError, match="incomplete or damaged.*delete it"):
        R.bit_weights_file("BiT-M-R50x1", tmp_path)
    assert server["urls"] == []


def test_builder_weights_load_the_downloaded_file(tmp_path, server, r50_npz):
    body = r50_npz.read_bytes()
    server["response"] = lambda: FakeResponse(body)
    model = models.resnetv2_50x1_bit("BiT-S", num_classes=10, root=tmp_path, progress=False)
    expected = R.load_bit_npz(models.resnetv2_bit("R50x1", 10), r50_npz)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), expected.state_dict().values()))
    assert not model.fc.weight.any()  # BiT-S's 1,000-class head does not fit 10 classes: the zero head stays
    assert server["urls"] == ["https://storage.googleapis.com/bit_models/BiT-S-R50x1.npz"]
    with pytest.raises(ValueError, match="BiT-S or BiT-M"):
        models.resnetv2_bit("R50x1", 10, weights="BiT-L")
