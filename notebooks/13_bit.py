# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: -all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,-jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 13 · BiT: Big Transfer
#
# [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/cnncourse/cnncourse/blob/main/notebooks/13_bit.ipynb)
#
# Every network so far was trained from scratch for one task. Kolesnikov, Beyer, Zhai, Puigcerver, Yung, Gelly and
# Houlsby (*Big Transfer (BiT): General Visual Representation Learning*, 2019) split the work in two. **Upstream**,
# once and at great cost, a large ResNet learns from a large labelled dataset: BiT-S from ImageNet's 1.3 million
# images, BiT-M from ImageNet-21k's 14 million, BiT-L from Google's JFT-300M. **Downstream**, cheaply and for every
# new task, that network is fine-tuned on whatever labelled examples the task has — sometimes five per class. BiT-M
# reaches about 82% on CIFAR-10 from 50 training images.
#
# Three ingredients make it work, and this chapter takes them one at a time: GroupNorm and Weight Standardization
# instead of BatchNorm, a pre-activation ResNet that is simply made bigger, and a rule (the *BiT-HyperRule*) that
# picks the fine-tuning settings from two numbers instead of a search. Then we watch transfer work on a problem small
# enough for a laptop, and (in full mode) fine-tune the original BiT-M-R50x1 weights on 5-shot CIFAR-10.

# %%
# On Google Colab: install the course's helper package (Colab already has torch, so it is not reinstalled).
# Anywhere else this cell does nothing; locally, `pip install -r requirements.txt` has installed it.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "cnncourse @ git+https://github.com/cnncourse/cnncourse"], check=True)

# %%
import inspect
import os
import statistics
import tempfile
import warnings
from functools import partial
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import timm
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from timm.layers import StdConv2d as TimmStdConv2d
from torch import nn
from torch.utils.data import TensorDataset

import cnncourse
from cnncourse import data, models, pipeline, plot, profile, results, scratch, train
from cnncourse.models import resnetv2
from cnncourse.models.resnet import Bottleneck
from cnncourse.models.resnetv2 import PreActBottleneck, ResNetV2

warnings.filterwarnings("ignore", category=UserWarning)
cfg = cnncourse.setup(seed=0)

# %% [markdown]
# ## Why BatchNorm is a problem here
#
# BatchNorm (chapter 08) normalises every channel with the mean and variance of the current batch. BiT's upstream
# training used batches of 4,096 images spread over 512 TPU chips: 8 images per chip, too few for good statistics
# unless the chips exchange them at every layer. Its fine-tuning uses batches of 512, which a GPU often cannot hold
# at once: the usual fix is **gradient accumulation** (`train.fit(..., accum_steps=...)`), adding up the gradients
# of several micro-batches before one optimizer step. With BatchNorm that is not the same as one big batch, because
# every micro-batch is normalised with its own statistics. (BatchNorm's running statistics are also a *state* that
# was estimated on the upstream data and must be re-estimated on the new task; GroupNorm has none.)
#
# We check this on a small BiT-style network (`ResNetV2`, introduced below) in two versions that differ only in their
# normalisation: BatchNorm with plain convolutions, and GroupNorm with weight-standardised convolutions. The gradient
# of one batch of 32 digits, once computed on the whole batch and once accumulated over 16 micro-batches of 2 (in
# float64, so that rounding does not hide anything):

# %%
# NBVAL_CHECK_OUTPUT
def small_net(norm: str, classes: int = 10, in_channels: int = 1, width: int = 8, seed: int = 0) -> ResNetV2:
    """A three-stage ResNetV2 for small images with GroupNorm + WS ("GN+WS") or BatchNorm + plain conv ("BN")."""
    torch.manual_seed(seed)
    swap = dict(norm_layer=nn.BatchNorm2d, conv_layer=nn.Conv2d) if norm == "BN" else dict(num_groups=width // 2)
    return ResNetV2((1, 1, 1), 1, classes, widths=(width, 2 * width, 4 * width), stem_width=width,
                    in_channels=in_channels, small_input=True, **swap)


digits_train, digits_test = (TensorDataset(F.avg_pool2d(ds.tensors[0], 4), ds.tensors[1])  # the scanned 8×8 pixels
                             for ds in data.digits(size=32, seed=0))
x, y = (t[:32].double() if t.is_floating_point() else t[:32] for t in digits_train.tensors)


def gradient(net: nn.Module, micro_batch: int) -> torch.Tensor:
    """All parameter gradients of the mean loss over x, accumulated over micro-batches, as one vector."""
    net.zero_grad()
    for i in range(0, len(x), micro_batch):
        part = slice(i, i + micro_batch)
        (F.cross_entropy(net(x[part]), y[part]) * micro_batch / len(x)).backward()
    return torch.cat([p.grad.flatten() for p in net.parameters()])


for norm in ("BN", "GN+WS"):
    net = small_net(norm).double()
    nn.init.normal_(net.fc.weight, std=0.1)  # a non-zero head, so that every layer gets a gradient
    whole, accumulated = gradient(net, 32), gradient(net, 2)
    relative = float((whole - accumulated).norm() / whole.norm())
    gap = "" if relative < 1e-12 else f" (they differ by {relative:.0%} of the gradient's length)"
    print(f"{norm:6s} 16 micro-batches of 2 give the gradient of one batch of 32: {relative < 1e-12}{gap}")

# %% [markdown]
# With GroupNorm each image is normalised on its own, so the loss of a batch is an average of per-image losses and
# accumulation is exact. With BatchNorm the accumulated gradient is a different gradient, off by the printed fraction
# of its length. How much that matters depends on the micro-batch. We train both versions on 512 digits with an
# effective batch of 32 (learning rate 0.1, 3 epochs), once with micro-batches of 32 and once with micro-batches of
# a single image accumulated 32 times — the situation of a large network on a small GPU. The experiment runs the same
# in both modes (it is about the batch, not the data):

# %%
few_digits = TensorDataset(*(t[:512] for t in digits_train.tensors))
train_loader_32, test_loader = data.loaders(few_digits, digits_test, batch_size=32, seed=0, device=cfg.device)
train_loader_1, _ = data.loaders(few_digits, digits_test, batch_size=1, seed=0, device=cfg.device)
micro_runs, micro_acc = {}, {}
for norm in ("BN", "GN+WS"):
    for micro, loader in ((32, train_loader_32), (1, train_loader_1)):
        name = f"{norm}, micro-batch {micro}"
        micro_runs[name] = train.fit(small_net(norm), loader, 3, val_loader=test_loader, lr=0.1, accum_steps=32 // micro,
                                     device=cfg.device, verbose=False,
                                     checkpoint=cfg.checkpoint(f"13_bit-{norm[:2].lower()}-micro{micro}"))
        micro_acc[name] = micro_runs[name].last["val_acc"]
        print(f"{name:22s} test accuracy {micro_acc[name]:.1%}, last training loss "
              f"{micro_runs[name].last['train_loss']:.2f} (chance: ln 10 = {np.log(10):.2f})")
cfg.expect(micro_acc["BN, micro-batch 1"] < 0.2, "BatchNorm with one image per micro-batch should not learn")
cfg.expect(min(micro_acc["GN+WS, micro-batch 1"], micro_acc["GN+WS, micro-batch 32"]) > 0.8,
           "GroupNorm + WS should learn with any micro-batch")

fig = plot.plot_history(micro_runs, title="Effective batch 32 from micro-batches of 32 or of 1 (512 digits, 8×8)")
plt.show()

# %% [markdown]
# GroupNorm + WS learns equally well with either micro-batch: its accumulated gradients are the big batch's, up to
# float32 rounding. BatchNorm with one image per micro-batch does not learn at all: its training loss stays near
# ln 10 ≈ 2.3, chance level. A BatchNorm layer in training mode that gets a single image normalises each channel over
# that image's positions alone. In the last stage of this network there are 2×2 = 4 of them (an 8×8 digit halved
# twice): every channel becomes four numbers with mean 0 and variance 1, and after the final ReLU and the average
# pooling what is left of a channel is half of their mean absolute value — at most 0.5, whatever the digit (with the
# initial scale 1 and shift 0). Earlier layers lose information the same way. The features of a freshly initialised
# network, fed one test digit at a time in training mode, show it:

# %%
with torch.no_grad():
    for norm in ("BN", "GN+WS"):
        net = small_net(norm).train()  # training mode: BatchNorm uses the statistics of the batch (one image)
        features = torch.cat([net.features(image[None]) for image in digits_test.tensors[0][:100]])
        spread = float(features.std(dim=0).mean() / features.abs().mean())
        print(f"{norm:6s} features of 100 test digits, one at a time: between {features.min():.2f} and "
              f"{features.max():.2f}; spread from digit to digit {spread:.2f} of their size")

# %% [markdown]
# ## GroupNorm by hand
#
# GroupNorm (Wu & He, 2018) computes the same kind of statistics as BatchNorm, over other axes: for every image on its
# own, it splits the C channels into G groups of C/G neighbouring channels and normalises each group with the mean and
# variance over its channels and all positions. Then, as in BatchNorm, a learned scale γ and shift β per channel.
# Nothing depends on the other images of the batch, and training and evaluation compute the same thing. BiT uses
# G = 32. `cnncourse.scratch.group_norm` is the whole computation:

# %%
print(inspect.getsource(scratch.group_norm))

# %% [markdown]
# It agrees with PyTorch's `nn.GroupNorm` for any number of groups, gradients included. Its two extremes are
# familiar layers: one group is LayerNorm over (C, H, W), C groups of one channel is InstanceNorm.

# %%
# NBVAL_CHECK_OUTPUT
gen = torch.Generator().manual_seed(0)
x = (2 * torch.randn(4, 64, 6, 6, generator=gen) + 1).requires_grad_()
upstream_grad = torch.randn(4, 64, 6, 6, generator=gen)
for groups in (1, 8, 32, 64):
    reference = nn.GroupNorm(groups, 64)
    with torch.no_grad():
        reference.weight.uniform_(0.5, 1.5, generator=gen), reference.bias.uniform_(-0.5, 0.5, generator=gen)
    ours = scratch.group_norm(x, groups, reference.weight, reference.bias)
    grads = torch.autograd.grad((ours * upstream_grad).sum(), [x, reference.weight])
    expected = torch.autograd.grad((reference(x) * upstream_grad).sum(), [x, reference.weight])
    diff = max(float((a - b).abs().max()) for a, b in zip((ours, *grads), (reference(x), *expected)))
    print(f"G = {groups:2d}: outputs and gradients equal nn.GroupNorm's, max abs difference < 1e-5: {diff < 1e-5}")
with torch.no_grad():
    layer_norm = nn.LayerNorm([64, 6, 6], elementwise_affine=False)(x)
    instance_norm = nn.InstanceNorm2d(64)(x)
    print(f"G = 1 is LayerNorm: {torch.allclose(scratch.group_norm(x, 1), layer_norm, atol=1e-5)}; "
          f"G = C is InstanceNorm: {torch.allclose(scratch.group_norm(x, 64), instance_norm, atol=1e-5)}")

# %% [markdown]
# On its own, GroupNorm trains a little worse than BatchNorm with large batches (Wu & He report ImageNet top-1 of
# 75.9% vs 76.4% for ResNet-50 at 32 images per GPU). BiT pairs it with a second normalisation, of the weights.
#
# ## Weight Standardization by hand
#
# Weight Standardization (Qiao, Wang, Liu, Shen & Yuille, 2019) normalises each convolution *filter* instead of the
# activations: before convolving, every output channel's weights (over input channels × kernel height × width) have
# their mean subtracted and are divided by their standard deviation, Ŵ = (W − mean) / √(var + ε). The network stores
# and trains W; only the convolution sees Ŵ. The authors show that this smooths the loss landscape and that GN + WS
# matches or beats BN with large batches while needing no batch at all. `scratch.StdConv2d` is an `nn.Conv2d` whose
# forward does exactly that:

# %%
print(inspect.getsource(scratch.norm._standardize))
print(inspect.getsource(scratch.StdConv2d.forward))

# %% [markdown]
# timm's `StdConv2d` does the same computation another way (it runs `F.batch_norm` over the weights). The ε is where
# implementations differ: the original BiT code uses 1e-10 (our default), timm's `StdConv2d` defaults to 1e-6 and
# timm's BiT models use 1e-8. Given the same ε the two layers agree; and because each filter is divided by its own
# scale, multiplying a filter by 10 (or adding a constant to it) changes nothing:

# %%
# NBVAL_CHECK_OUTPUT
x = torch.randn(2, 16, 9, 9, generator=gen)
for eps in (1e-6, 1e-8, 1e-10):
    torch.manual_seed(0)
    reference = TimmStdConv2d(16, 32, 3, eps=eps)
    ours = scratch.StdConv2d(16, 32, 3, padding=1, bias=False, eps=eps)
    ours.load_state_dict(reference.state_dict())  # the same keys as nn.Conv2d
    with torch.no_grad():
        diff = float((ours(x) - reference(x)).abs().max())
    print(f"eps {eps:g}: our StdConv2d equals timm's, max abs difference < 1e-4: {diff < 1e-4}")
with torch.no_grad():
    before = ours(x)
    ours.weight.mul_(10).add_(3)
    print(f"filters scaled by 10 and shifted by 3: same output: {torch.allclose(ours(x), before, atol=1e-4)}")

# %% [markdown]
# That scale invariance has a consequence for training: a gradient step changes a large weight vector's direction
# less than a small one's, so the effective learning rate of a standardised filter shrinks as its weights grow.
#
# ## Pre-activation blocks
#
# BiT's network is a ResNet "v2" (He, Zhang, Ren & Sun, *Identity Mappings in Deep Residual Networks*, 2016). In the
# original block (chapter 10) each convolution is followed by its norm and a ReLU, and a last ReLU comes after the
# addition. The v2 block moves norm and ReLU *before* each convolution and puts nothing after the addition, so
# that the shortcuts from the first block to the last form one unbroken identity path. When the shape changes, the
# projection shortcut takes the pre-activated input (the first norm and ReLU are shared). The two forward passes:

# %%
print(inspect.getsource(Bottleneck.forward))
print(inspect.getsource(PreActBottleneck.forward))

# %% [markdown]
# The difference shows when a block should do nothing. Set the last layer of its residual branch to zero: a v2 block
# then returns its input exactly, negative values included; a v1 block returns relu(x), because its ReLU after the
# addition still clips.

# %%
# NBVAL_CHECK_OUTPUT
v1, v2 = Bottleneck(256, 64).eval(), PreActBottleneck(256, 64).eval()
nn.init.zeros_(v1.bn3.weight)  # v1: F(x) = 0 through its last BatchNorm
nn.init.zeros_(v2.conv3.weight)  # v2: F(x) = 0 through its last convolution
x = torch.randn(2, 256, 7, 7, generator=gen)
with torch.no_grad():
    print(f"v2 block returns x: {torch.equal(v2(x), x)}; v1 block returns x: {torch.equal(v1(x), x)}, "
          f"returns relu(x): {torch.equal(v1(x), x.relu())}")

# %% [markdown]
# ## The BiT family, checked against timm
#
# `models.resnetv2_bit(variant, num_classes)` builds the published sizes. The variant names say the depth and a
# *width factor* that multiplies every channel count (R50x3: ResNet-50 with every layer 3× as wide). Our builders
# `resnetv2_50x1_bit` … carry timm's names, and `resnetv2.timm_to_resnetv2` renames timm's state dict to ours. With
# timm's ε (1e-8) the two are the same function: equal in float64 to rounding error.

# %%
# NBVAL_CHECK_OUTPUT
reference = timm.create_model("resnetv2_50x1_bit", num_classes=10)
with torch.no_grad():  # random GroupNorm scales and shifts, and a random head, so that every parameter matters
    for key, t in reference.state_dict().items():
        if t.dim() == 1 and key.endswith("weight"):
            t.uniform_(0.5, 1.5, generator=gen)
        elif t.dim() == 1:
            t.uniform_(-0.3, 0.3, generator=gen)
    reference.head.fc.weight.normal_(0, 0.05, generator=gen)
bit_r50 = models.resnetv2_bit("R50x1", 10, eps=1e-8).double()
x = torch.randn(2, 3, 64, 64, generator=gen, dtype=torch.float64)
print(models.check_twin(bit_r50, reference.double(), x, key_map=resnetv2.timm_to_resnetv2, tolerance=1e-10))
original_eps = models.check_twin(models.resnetv2_bit("R50x1", 10).double(), reference, x,
                                 key_map=resnetv2.timm_to_resnetv2, tolerance=1e-3)
print(f"with the original code's eps 1e-10 instead: max abs difference between 1e-6 and 1e-4: "
      f"{1e-6 < original_eps.max_abs_diff < 1e-4}")
assert 1e-6 < original_eps.max_abs_diff < 1e-4  # not equal to timm's to 1e-10, yet harmless
timm_r50_params = profile.count_params(reference)
print(f"parameters of BiT-R50x1 with a 10-class head: {profile.count_params(bit_r50):,d} (timm: {timm_r50_params:,d})")
del reference

# %% [markdown]
# With the original ε the outputs move by a few hundred-thousandths: harmless, but enough to fail an exact
# comparison, which is why the check above builds our model with timm's ε. The whole family, built on the `meta`
# device (shapes only): parameters with a 10-class head and with BiT-M's 21,843-class ImageNet-21k head, and the
# FLOPs of one image at 128×128, the resolution the HyperRule gives CIFAR-10.

# %%
# NBVAL_CHECK_OUTPUT
print(f"{'variant':8s} {'blocks':15s} {'width':>5s} {'params, 10 classes':>19s} {'= timm':>6s} "
      f"{'params, BiT-M head':>18s} {'GFLOPs @128':>11s}")
params10, heads = {}, {}
for variant, (blocks, width_factor) in resnetv2.BIT_VARIANTS.items():
    with torch.device("meta"):
        net10, net21k = models.resnetv2_bit(variant, 10), models.resnetv2_bit(variant, 21_843)
        twin = timm.create_model(f"resnetv2_{variant[1:].lower()}_bit", num_classes=10)
    params = params10[variant] = profile.count_params(net10)
    heads[variant] = profile.count_params(net21k.fc)
    gflops = profile.count_flops(net10, (1, 3, 128, 128)) / 1e9
    same = params == profile.count_params(twin)
    print(f"{variant:8s} {str(list(blocks)):15s} {width_factor:5d} {params:19,d} {str(same):>6s} "
          f"{profile.count_params(net21k):18,d} {gflops:11.1f}")
print(f"BiT-M's head on R152x4's {net21k.fc.in_features:,d} features: {heads['R152x4']:,d} parameters; on R50x1's: "
      f"{heads['R50x1']:,d} (the R50x1 network itself, 10-class head: {params10['R50x1']:,d}); R50x3 / R50x1 "
      f"parameters: {params10['R50x3'] / params10['R50x1']:.2f}")

# %% [markdown]
# Width costs quadratically: R50x3 has 9× the weights of R50x1 in every convolution after the stem (almost 9× in
# all, printed). BiT-M's head on
# R50x1 alone has more parameters than the R50x1 network itself; fine-tuning throws it away and starts a new head.
#
# ## The original weights
#
# BiT published its weights as 12 NumPy `.npz` files (BiT-S and BiT-M, each in the six sizes) from a TensorFlow
# model: TensorFlow's layer names (`resnet/block2/unit01/b/standardized_conv2d/kernel`: stage 2, unit 1, its second
# layer "b") and kernels stored height × width × in × out, where PyTorch wants out × in × height × width.
# `models.load_bit_npz(model, path)` maps every name (`resnetv2.npz_key`) and transposes every kernel
# (`resnetv2.hwio_to_oihw`); the head is loaded only if it has the model's number of classes. `models.save_bit_npz`
# writes the same layout. To see the loader work without downloading anything, we write a small network's weights
# in the original layout, load them into our model and, with timm's own `.npz` loader, into timm's, and compare:

# %%
# NBVAL_CHECK_OUTPUT
layout = dict(widths=(32, 64, 128, 256), stem_width=32, num_classes=7)  # one block per stage, narrow
torch.manual_seed(0)
source = ResNetV2([1, 1, 1, 1], **layout, zero_head=False)
folder = Path(tempfile.mkdtemp())
npz_path = models.save_bit_npz(source, folder / "small-bit.npz")
with np.load(npz_path) as npz:
    print(f"{len(npz.files)} arrays, e.g.")
    for key in ("resnet/root_block/standardized_conv2d/kernel", "resnet/block2/unit01/b/standardized_conv2d/kernel",
                "resnet/block2/unit01/a/proj/standardized_conv2d/kernel", "resnet/head/conv2d/kernel"):
        print(f"  {key:55s} {npz[key].shape}")
ours = models.load_bit_npz(ResNetV2([1, 1, 1, 1], **layout, eps=1e-8), npz_path)
theirs = timm.models.resnetv2.ResNetV2([1, 1, 1, 1], channels=(128, 256, 512, 1024), stem_chs=32, num_classes=7,
                                       stem_type="fixed", conv_layer=partial(TimmStdConv2d, eps=1e-8))
theirs.load_pretrained(str(npz_path))  # timm's loader for the original files
x = torch.randn(2, 3, 48, 48, generator=gen)
with torch.no_grad():
    diff = float((ours.eval()(x) - theirs.eval()(x)).abs().max())
print(f"our loader and timm's give the same outputs, max abs difference < 1e-4: {diff < 1e-4}")

# %% [markdown]
# In full mode the real file is fetched: `resnetv2.bit_weights_file("BiT-M-R50x1", cfg.data_dir)` downloads it from
# BiT's bucket into the course's data folder (once; the download goes to a `.part` file that is renamed only when
# its size and checksum match what the server announced), and `models.resnetv2_bit("R50x1", 10,
# weights="BiT-M")` does both steps.

# %%
if cfg.full:
    bit_m_path = resnetv2.bit_weights_file("BiT-M-R50x1", cfg.data_dir)
    with np.load(bit_m_path) as npz:
        head = npz["resnet/head/conv2d/kernel"].shape
        print(f"{bit_m_path.name}: {len(npz.files)} arrays, {sum(npz[k].size for k in npz.files):,d} numbers, "
              f"head {head} ({head[-1]:,d} ImageNet-21k classes)")
else:
    with torch.device("meta"):  # BiT-M's R50x1 with its ImageNet-21k head, in float32: the file's size
        bit_m_mb = 4 * profile.count_params(models.resnetv2_bit("R50x1", resnetv2.BIT_CLASSES["BiT-M"])) / 1e6
    print(f"tiny mode: the {bit_m_mb:.0f} MB BiT-M-R50x1.npz is downloaded in full mode only (CNNCOURSE_MODE=full); "
          f"the small file above shows the loader")

# %% [markdown]
# ## The BiT-HyperRule
#
# Fine-tuning has hyper-parameters — learning rate, schedule length, resolution, regularisation — and searching them
# for every new task would cost more than the fine-tuning. BiT fixes most of them for every task (SGD with momentum
# 0.9, learning rate 0.003, batch 512, no weight decay, a zero-initialised head, random crops and flips) and derives
# the rest from two numbers, the dataset's size and its image resolution: `train.bit_hyperrule`. Small tasks
# (fewer than 20,000 labelled images) get 500 steps, medium ones (fewer than 500,000) 10,000 steps, larger ones
# 20,000; MixUp only from medium size on; images smaller than 96×96 pixels are enlarged to 160 and cropped to 128.

# %%
# NBVAL_CHECK_OUTPUT
TASKS = {"CIFAR-10, 5-shot": (50, (32, 32)), "CIFAR-10, 1% (500 images)": (500, (32, 32)),
         "CIFAR-10, all": (50_000, (32, 32)), "Oxford-IIIT Pet, 224×224": (3_680, (224, 224)),
         "ImageNet-1k, 224×224": (1_281_167, (224, 224))}
print(f"{'task':30s} {'steps':>6s} {'warm-up':>7s} {'÷10 at':20s} {'resize→crop':>11s} {'MixUp':>5s} "
      f"{'passes over the data':>20s}")
for task, (size, resolution) in TASKS.items():
    rule = train.bit_hyperrule(size, resolution)
    drops = ", ".join(f"{m:,d}" for m in rule.milestones)
    print(f"{task:30s} {rule.steps:6,d} {rule.warmup_steps:7,d} {drops:20s} {rule.resize:>5d}→{rule.crop:<5d} "
          f"{rule.mixup_alpha:5.1f} {rule.steps * rule.batch_size / size:20,.1f}")

# %% [markdown]
# Two things stand out. The
# 5-shot task sees each of its 50 images 5,120 times: with a good representation, fine-tuning does not over-fit the
# way training from scratch would. And this is the rule as BiT's code computes it (`bit_hyperrule.py` in its
# repository). The paper's text says the learning rate drops at 30%, 60% and 90% of the steps, which the code does
# for medium and large tasks; for small ones it drops at 200, 300 and 400 of 500 steps, and that is the schedule of
# BiT's own 5-shot CIFAR-10 example, which full mode reproduces below. The paper also gives 448 → 384 for larger
# images where the code uses 512 → 480.

# %%
rule = train.bit_hyperrule(*TASKS["CIFAR-10, 5-shot"])
fig, ax = plt.subplots(figsize=(7, 3))
ax.plot([rule.lr * rule.schedule()(t) for t in range(rule.steps)])
ax.set_yscale("log")
ax.set_xlabel("optimizer step (512 images each)")
ax.set_ylabel("learning rate (log scale)")
ax.set_title("BiT-HyperRule for a small task: 100 warm-up steps, ÷10 at 200, 300 and 400")
ax.grid(alpha=0.3, which="both")
plt.show()

# %% [markdown]
# ## Transfer that actually transfers: a small experiment
#
# Does a representation learned on one task help another task with five examples per class? We can watch it happen
# without BiT's weights: pre-train a small GN + WS `ResNetV2` "upstream" on the handwritten digits 0–4, then
# fine-tune it "downstream" on five examples of each of the digits 5–9, and compare it with the same network trained
# from scratch on the same 25 examples. (This experiment runs the same in both modes; full mode adds the real BiT
# below.)
#
# There is a catch, and it is the first thing this experiment taught us. On the digits as scanned — 8×8 pixels, each
# digit centred — five examples per class are enough without any representation: a linear classifier on the raw
# pixels already recognises most test digits (below). A pre-trained network then has little to add; when we first
# ran the experiment on centred digits, the network trained from scratch did as well as the transferred one. What a
# network learns from many images and cannot learn from 25 is *invariance*: recognising a stroke wherever it is. So
# we place every digit at a random position on a 16×16 canvas (a shift of up to 4 pixels each way). A linear
# classifier on the raw pixels, trained on one 5-shot draw and tested on all test digits 5–9, for five draws
# (seeds 0–4), centred and shifted:

# %%
PAD, CANVAS = 4, 16  # 8×8 digits on a 16×16 canvas, shifted by up to 4 pixels


def centred(images: torch.Tensor) -> torch.Tensor:
    return F.pad(images, (PAD,) * 4)


SHIFT = pipeline.Augment(crop_padding=PAD, crop_size=(CANVAS, CANVAS))  # a random 16×16 window of the padded canvas


def shifted(images: torch.Tensor, seed: int) -> torch.Tensor:
    """Every image at one random position on the canvas (seeded)."""
    loader = pipeline.TensorLoader(centred(images), torch.zeros(len(images)), len(images), augment=SHIFT, seed=seed)
    return next(iter(loader))[0]


(train_x, train_y), (test_x, test_y) = digits_train.tensors, digits_test.tensors
upstream_classes, downstream_classes = train_y < 5, train_y >= 5
downstream_pool = TensorDataset(train_x[downstream_classes], train_y[downstream_classes] - 5)
test_down = test_y >= 5
SEEDS = range(5)


def pixel_classifier(seed: int, move: bool) -> float:
    """Test accuracy (digits 5–9) of logistic regression on the pixels of one 5-shot draw."""
    shots = data.k_shot(downstream_pool, 5, seed=seed).indices
    x, y = downstream_pool.tensors[0][shots], downstream_pool.tensors[1][shots]
    x, test = (shifted(x, seed), shifted(test_x[test_down], 123)) if move else (centred(x), centred(test_x[test_down]))
    classifier = LogisticRegression(max_iter=2000).fit(x.flatten(1).numpy(), y.numpy())
    return classifier.score(test.flatten(1).numpy(), (test_y[test_down] - 5).numpy())


print(f"test set: {int(test_down.sum())} digits 5–9")
for move in (False, True):
    accuracy = [pixel_classifier(seed, move) for seed in SEEDS]
    print(f"{'shifted' if move else 'centred'} digits: pixel classifier test accuracy, median "
          f"{statistics.median(accuracy):.1%} (min {min(accuracy):.1%}, max {max(accuracy):.1%}); chance 20%")

# %% [markdown]
# On shifted digits the pixels alone are near chance. **Upstream**: the network (three stages of 16/32/64 channels
# inside, 64/128/256 out, GroupNorm with 8 groups) learns the digits 0–4 from the 675 training images, each drawn at
# a new random position in every epoch (the augmentation), for 8 epochs.

# %%
up_x, up_y = centred(train_x[upstream_classes]), train_y[upstream_classes]
up_test = test_y < 5
up_loader = pipeline.TensorLoader(up_x, up_y, 32, shuffle=True, augment=SHIFT, device=cfg.device, seed=0)
up_test_loader = pipeline.TensorLoader(shifted(test_x[up_test], 123), test_y[up_test], 256, device=cfg.device)
upstream = small_net("GN+WS", classes=5, width=16)
up_history = train.fit(upstream, up_loader, 8, val_loader=up_test_loader, lr=0.1, device=cfg.device, verbose=False,
                       schedule=train.lr_schedule("cosine", 8 * len(up_loader), warmup_steps=20),
                       checkpoint=cfg.checkpoint("13_bit-upstream"))
print(f"upstream: {len(up_y)} training digits 0–4, test accuracy {up_history.last['val_acc']:.1%}")
pretrained = {k: v for k, v in upstream.state_dict().items() if not k.startswith("fc.")}  # the backbone

# %% [markdown]
# **Downstream**: for each of five seeds, a different draw of five training digits per class 5–9 (25 images), each
# shown at a new random position in every step. The transferred network starts from the upstream backbone with a
# new, zero-initialised 5-class head; the scratch network from a random initialisation with the same zero head.
# Both get the HyperRule's schedule shape, scaled from 500 to 40 steps: linear warm-up over 8 steps, ÷10 at steps
# 16, 24 and 32; SGD with momentum 0.9, no weight decay, every step on all 25 images. The learning rate is 0.1 for
# both (BiT's 0.003 belongs to its large networks and batches of 512; a network this small and a batch of 25 want
# a larger one). The test set is the test digits 5–9 counted above, each at a fixed random position.

# %%
STEPS = 40
downstream_schedule = train.lr_schedule("step", STEPS, warmup_steps=8, milestones=[16, 24, 32])
down_test_loader = pipeline.TensorLoader(shifted(test_x[test_down], 123), test_y[test_down] - 5, 256,
                                         device=cfg.device)


def downstream(seed: int, transfer: bool, k: int = 5) -> tuple[ResNetV2, float]:
    """Fine-tune (transfer=True) or train from scratch on one k-shot draw of the digits 5–9; test accuracy."""
    shots = data.k_shot(downstream_pool, k, seed=seed).indices
    x, y = centred(downstream_pool.tensors[0][shots]), downstream_pool.tensors[1][shots]
    loader = pipeline.TensorLoader(x, y, len(x), shuffle=True, augment=SHIFT, device=cfg.device, seed=seed)
    net = small_net("GN+WS", classes=5, width=16, seed=seed + 1)
    if transfer:
        net.load_state_dict(pretrained, strict=False)  # everything but the (zero) head
    name = f"13_bit-{k}shot-{'transfer' if transfer else 'scratch'}-seed{seed}"
    train.fit(net, loader, STEPS, lr=0.1, schedule=downstream_schedule, device=cfg.device, verbose=False,
              checkpoint=cfg.checkpoint(name))  # an epoch is one step: all 25 images
    return net, train.evaluate(net, down_test_loader, device=cfg.device)["acc"]


transfer_acc, scratch_acc, finetuned = {}, {}, {}
for seed in SEEDS:
    finetuned[seed], transfer_acc[seed] = downstream(seed, transfer=True)
    scratch_acc[seed] = downstream(seed, transfer=False)[1]
    print(f"seed {seed}: transfer {transfer_acc[seed]:.1%}   from scratch {scratch_acc[seed]:.1%}")
summary = {}
for name, acc in (("transfer", transfer_acc), ("from scratch", scratch_acc)):
    values = list(acc.values())
    summary[name] = (statistics.median(values), min(values), max(values))
    print(f"{name:12s} median {summary[name][0]:.1%} (min {summary[name][1]:.1%}, max {summary[name][2]:.1%})")
cfg.expect(all(transfer_acc[s] > scratch_acc[s] for s in SEEDS), "transfer should win for every 5-shot draw")
cfg.expect(summary["transfer"][0] > summary["from scratch"][0] + 0.1, "transfer should win by a clear margin")

# %%
fig, ax = plt.subplots(figsize=(6.5, 3.8))
for i, (name, acc) in enumerate((("transfer\n(upstream: digits 0–4)", transfer_acc), ("from scratch", scratch_acc))):
    values = 100 * np.array(list(acc.values()))
    ax.scatter(np.full(len(values), i) + np.linspace(-0.08, 0.08, len(values)), values, color=f"C{i}", zorder=3,
               label="one 5-shot draw (seed)" if i == 0 else None)
    ax.hlines(np.median(values), i - 0.25, i + 0.25, color=f"C{i}", linewidth=3, label="median" if i == 0 else None)
for seed, offset in zip(SEEDS, np.linspace(-0.08, 0.08, len(SEEDS))):  # the same draw, with and without transfer
    ax.plot([offset, 1 + offset], [100 * transfer_acc[seed], 100 * scratch_acc[seed]], color="gray", alpha=0.3)
ax.axhline(20, color="black", linestyle=":", label="chance (5 classes)")
ax.set_xticks([0, 1], ["transfer\n(upstream: digits 0–4)", "from scratch"])
ax.set_xlim(-0.6, 1.6)
ax.set_ylabel("test accuracy on digits 5–9 (%)")
ax.set_title(f"5-shot digits 5–9 (shifted), {len(SEEDS)} seeds, {STEPS} steps each")
ax.grid(alpha=0.3, axis="y")
ax.legend(loc="upper right", fontsize="small")
plt.show()

# %% [markdown]
# Transfer wins for every draw, and by a wide margin. The 25 downstream images are too few to learn what a stroke
# looks like wherever it sits; the upstream network learned that from 675 images of *other* digits, and fine-tuning
# only has to re-use it for new classes. That is BiT's bet, at the scale of a laptop: the upstream data need not
# contain the downstream classes, only the kind of structure they are made of. The spread over seeds is large, as in
# BiT's own few-shot results: which five examples you get matters.
#
# Here is one 5-shot training set (seed 0, shown centred; training shows every digit at a new position in every
# step), and the fine-tuned network's predictions on test digits: the first ten it gets right and ten it gets wrong.

# %%
shots = data.k_shot(downstream_pool, 5, seed=0).indices
order = torch.argsort(downstream_pool.tensors[1][shots], stable=True)
grid = centred(downstream_pool.tensors[0][shots][order])
fig = plot.show_images(grid, [str(5 + int(c)) for c in downstream_pool.tensors[1][shots][order]], ncols=5,
                       title="The whole 5-shot training set (seed 0)", size=1.0)
plt.show()
logits, labels = train.predict(finetuned[0], down_test_loader, device=cfg.device)
predicted = logits.argmax(1)
right, wrong = torch.nonzero(predicted == labels).flatten()[:10], torch.nonzero(predicted != labels).flatten()[:10]
test_images = down_test_loader.images.cpu()
for title, chosen in (("right", right), ("wrong", wrong)):
    fig = plot.show_images(test_images[chosen], [f"{5 + int(predicted[i])} (true {5 + int(labels[i])})" for i in chosen],
                           ncols=10, size=1.1, title=f"Fine-tuned network (seed 0): test digits it gets {title}")
    plt.show()

# %% [markdown]
# ## Full mode: BiT-M-R50x1 on 5-shot CIFAR-10
#
# Full mode repeats BiT's own 5-shot CIFAR-10 example with the original BiT-M-R50x1 weights (pre-trained on
# ImageNet-21k): five training images per class, a new zero-initialised 10-class head, and the HyperRule's schedule
# for small tasks — 500 SGD steps (momentum 0.9, learning rate 0.003, no weight decay) of 512 images each, drawn with
# replacement from the 50 (`data.resampled_loader`) and accumulated from micro-batches (256 images on a GPU), warm-up
# over 100 steps, ÷10 at 200, 300 and 400; images resized to 160×160, randomly cropped to 128×128 and flipped
# (`data.bit_transforms`), test images resized to 128×128. This *is* the paper's schedule, so the `class` and `paper`
# schedules run the same. It differs from BiT's code in one respect: `train.fit` computes in bfloat16 mixed
# precision on a GPU where the original runs in float32. It runs for five 5-shot draws (seeds 0–4); BiT's repository
# reports a median of 82.3% (80.3–84.9%) over its runs, and its colab's single run 86.41%.
#
# Each run is saved every 50 steps (`checkpoint=`), so an interrupted cell resumes.

# %%
BIT_REFERENCE = {"median": 82.3, "min": 80.3, "max": 84.9, "colab": 86.41}  # % test accuracy, BiT-M-R50x1
STEPS_PER_EPOCH = 50  # fit's epochs here are 50 optimizer steps each: 10 checkpoints per run
if cfg.full:
    rule = train.bit_hyperrule(50, (32, 32))
    micro = 256 if cfg.device.type == "cuda" else 8  # accumulation makes any micro-batch the same (GroupNorm)
    accum, workers = rule.batch_size // micro, min(8, os.cpu_count() or 1)
    train_tf, test_tf = data.bit_transforms(rule.resize, rule.crop)
    cifar_train = data.cifar10(cfg.data_dir, train=True, transform=train_tf)
    cifar_test = data.cifar10(cfg.data_dir, train=False, transform=test_tf)
    test_loader = data.loaders(cifar_test, cifar_test, batch_size=500, num_workers=workers)[1]
    bit_acc = {}
    for seed in SEEDS:
        shots = data.k_shot(cifar_train, 5, seed=seed)
        loader = data.resampled_loader(shots, micro, STEPS_PER_EPOCH * accum, seed=seed, num_workers=workers)
        torch.manual_seed(seed)
        model = models.load_bit_npz(models.resnetv2_bit("R50x1", 10, zero_head=True), bit_m_path)
        train.fit(model, loader, rule.steps // STEPS_PER_EPOCH, lr=rule.lr, schedule=rule.schedule(),
                  accum_steps=accum, device=cfg.device, verbose=False,
                  checkpoint=cfg.checkpoint(f"13_bit-r50x1-5shot-seed{seed}"))
        bit_acc[seed] = train.evaluate(model, test_loader, device=cfg.device)["acc"]
        if seed == 0:
            first_model = model  # for the predictions below
        print(f"seed {seed}: 5-shot CIFAR-10 test accuracy {bit_acc[seed]:.2%}")
    values = [100 * a for a in bit_acc.values()]
    bit_summary = (statistics.median(values), min(values), max(values))
    print(f"BiT-M-R50x1, 5-shot CIFAR-10, {len(values)} seeds: median {bit_summary[0]:.1f}% "
          f"({bit_summary[1]:.1f}–{bit_summary[2]:.1f}%); BiT's repository: {BIT_REFERENCE['median']}% "
          f"({BIT_REFERENCE['min']}–{BIT_REFERENCE['max']}%), its colab: {BIT_REFERENCE['colab']}%")
    cfg.expect(bit_summary[0] > 70, "BiT-M-R50x1 should reach BiT's range on 5-shot CIFAR-10 (median 82.3%)")
else:
    print("tiny mode: fine-tuning BiT-M-R50x1 on 5-shot CIFAR-10 needs CIFAR-10, the BiT weights and a GPU "
          "(CNNCOURSE_MODE=full); BiT's reference: median 82.3% (80.3–84.9%), colab 86.41%")

# %%
if cfg.full:
    shots = data.k_shot(cifar_train, 5, seed=0).indices
    shots = sorted(shots, key=lambda i: cifar_train.targets[i])
    fig = plot.show_images(cifar_train.data[shots], [cifar_train.classes[cifar_train.targets[i]] for i in shots],
                           ncols=10, size=1.0, title="The whole 5-shot CIFAR-10 training set (seed 0)")
    plt.show()
    logits, labels = train.predict(first_model, test_loader, device=cfg.device)
    predicted = logits.argmax(1)
    for title, chosen in (("right", torch.nonzero(predicted == labels).flatten()[:10]),
                          ("wrong", torch.nonzero(predicted != labels).flatten()[:10])):
        if len(chosen):
            names = [f"{cifar_test.classes[int(predicted[i])]}\n(true {cifar_test.classes[int(labels[i])]})"
                     for i in chosen]
            fig = plot.show_images(cifar_test.data[chosen.numpy()], names, ncols=10, size=1.3,
                                   title=f"BiT-M-R50x1 fine-tuned on 50 images (seed 0): test images it gets {title}")
            plt.show()
else:
    print("tiny mode: the 5-shot CIFAR-10 grid and BiT's predictions need full mode; the digits above show both")

# %% [markdown]
# ## What full mode costs, and the results
#
# Full mode trains the experiments above (the micro-batch comparison, the upstream network and the ten downstream
# runs on digits, identical in both modes) and five BiT-M-R50x1 fine-tuning runs of 500 × 512 images at 128×128.
# Their cost, estimated from the networks' FLOPs (`profile.estimate_minutes`; the README states its assumptions),
# plus the one-time downloads of CIFAR-10 and of the weight file (its size is printed above):

# %%
# NBVAL_CHECK_OUTPUT
with torch.device("meta"):
    bit_shape, digit_net, upstream_net = models.resnetv2_bit("R50x1", 10), small_net("BN"), small_net("GN+WS", 5, width=16)
bit_runs = len(SEEDS) * profile.estimate_minutes(bit_shape, (3, 128, 128), images=500 * 512, epochs=1, batch_size=512,
                                                 eval_images=10_000)
digit_runs = (sum(2 * profile.estimate_minutes(digit_net, (1, 8, 8), images=len(few_digits), epochs=3,
                                               batch_size=micro_batch, eval_images=len(digits_test))
                  for micro_batch in (32, 1))
              + profile.estimate_minutes(upstream_net, (1, 16, 16), images=len(up_y), epochs=8, batch_size=32,
                                         eval_images=int(up_test.sum()))
              + 2 * len(SEEDS) * profile.estimate_minutes(upstream_net, (1, 16, 16), images=25, epochs=STEPS,
                                                          batch_size=25))
estimated = {"class": bit_runs + digit_runs, "paper": bit_runs + digit_runs}  # the same: BiT's schedule is the paper's
print(f"five BiT-M-R50x1 runs: about {bit_runs:.0f} GPU minutes; the digit experiments: about {digit_runs:.1f}; "
      f"class and paper schedule alike: about {estimated['class']:.0f} GPU minutes")

# %%
figures = {
    "parameters, BiT-R50x1 with a 10-class head": profile.count_params(bit_r50),  # checked against timm above
    "test accuracy, BN, micro-batch 1 (%)": 100 * micro_acc["BN, micro-batch 1"],
    "test accuracy, GN+WS, micro-batch 1 (%)": 100 * micro_acc["GN+WS, micro-batch 1"],
    "test accuracy, GN+WS, micro-batch 32 (%)": 100 * micro_acc["GN+WS, micro-batch 32"],
    "5-shot digits 5–9, transfer, median of 5 seeds (%)": 100 * summary["transfer"][0],
    "5-shot digits 5–9, transfer, min (%)": 100 * summary["transfer"][1],
    "5-shot digits 5–9, from scratch, median of 5 seeds (%)": 100 * summary["from scratch"][0],
    "5-shot digits 5–9, from scratch, max (%)": 100 * summary["from scratch"][2],
}
references = {"parameters, BiT-R50x1 with a 10-class head": f"{timm_r50_params:,d} (timm)"}
if cfg.full:
    for key, value in zip(("median", "min", "max"), bit_summary):
        figures[f"5-shot CIFAR-10, BiT-M-R50x1, {key} of 5 seeds (%)"] = value
    references["5-shot CIFAR-10, BiT-M-R50x1, median of 5 seeds (%)"] = (
        f"{BIT_REFERENCE['median']}% ({BIT_REFERENCE['min']}–{BIT_REFERENCE['max']}) BiT repository; "
        f"{BIT_REFERENCE['colab']}% colab")
_ = results.record(cfg, "13_bit", figures, references=references, estimated_minutes=estimated)

# %% [markdown]
# ## Exercises
#
# Worked solutions: [solutions/13_bit.ipynb](solutions/13_bit.ipynb) [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/cnncourse/cnncourse/blob/main/notebooks/solutions/13_bit.ipynb)
#
# 1. Repeat the small transfer experiment with 1 and with 10 examples per class (`downstream(seed, transfer, k=...)`).
#    How does the gap between transfer and training from scratch change with k?
# 2. Freeze the pre-trained backbone and train only the new head (a *linear probe*) on the 5-shot digits, with the
#    same schedule. Is it better or worse than fine-tuning the whole network? Why might BiT fine-tune everything?
# 3. Build the upstream and downstream networks with BatchNorm instead of GroupNorm + WS (`small_net("BN", ...)`) and
#    repeat the transfer experiment. What happens to the BatchNorm running statistics during fine-tuning on 25
#    images, and does transfer still win?
# 4. BiT's stem pads with zeros and then max-pools without padding, where torchvision's ResNet max-pools with
#    padding 1 (which pads with −∞). Find an input for which the two give different outputs, and explain why it
#    matters in a pre-activation network but not in torchvision's.
# 5. Use `train.bit_hyperrule` for a dataset of 30,000 images of 64×64 pixels. How many epochs (passes over the data)
#    is that, and which of its settings would change if the images were 128×128?
