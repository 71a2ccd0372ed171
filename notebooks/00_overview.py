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
# # 00 · Overview: how to run this course, and where its models stand
#
# [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/cnncourse/cnncourse/blob/main/notebooks/00_overview.ipynb)
#
# This course follows convolutional networks from a convolution written by hand to transfer learning with BiT.
# Every chapter has the same arc: **why** the idea was needed, **build** it, **verify** it against PyTorch,
# **train or measure** it, **look** at what it does, and **exercises**. This first notebook explains how to run
# the course and then places the ImageNet models you will build on one chart: how accurate they are, how much
# computation they cost, and how many parameters they have.

# %%
# On Google Colab: install the course's helper package (Colab already has torch, so it is not reinstalled).
# Anywhere else this cell does nothing; locally, `pip install -r requirements.txt` has installed it.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "cnncourse @ git+https://github.com/cnncourse/cnncourse"], check=True)

# %% [markdown]
# ## The chapters
#
# | # | chapter | the idea it adds |
# |---|---|---|
# | 00 | overview | how to run the course; accuracy vs cost of the models ahead |
# | 01 | convolution from scratch | local receptive fields, shared weights, img2col |
# | 02 | pooling, activations, LRN | downsampling, non-linearities and their gradients |
# | 03 | LeNet-5 | the first trained CNN, on real handwritten digits |
# | 04 | AlexNet | ReLU, dropout and GPUs make depth trainable |
# | 05 | VGG | depth from stacks of 3×3 convolutions |
# | 06 | NiN | 1×1 convolutions and global average pooling |
# | 07 | GoogLeNet | the Inception module: width at low cost |
# | 08 | batch normalisation | normalising activations, written by hand |
# | 09 | Inception v2/v3 | factorised convolutions, label smoothing |
# | 10 | ResNet | residual connections beat the degradation problem |
# | 11 | Inception-v4, Inception-ResNet | residual Inception, residual scaling |
# | 12 | DenseNet | concatenating every earlier feature map |
# | 13 | BiT | GroupNorm + Weight Standardization, 5-shot transfer |
# | 14 | EfficientNet (preview) | compound scaling of depth, width and resolution |
#
# ## Running it
#
# Every notebook starts the same way: the cell above (which only acts on Colab) and `cnncourse.setup()`, which
# decides the **run mode**, picks the device, seeds every random number generator, and prints one line saying what
# it chose.
#
# - **tiny** — runs anywhere in well under a minute per notebook on a 2-core CPU, never touches the network, and
#   uses data that ships with scikit-learn (1,797 real handwritten digits, two photos). Models are narrower and
#   training is short, but it still *learns*. This is what CI checks on every change.
# - **full** — real datasets (MNIST, CIFAR-10) and pretrained weights, downloaded once and cached; real schedules.
#   Meant for a GPU.
#
# The mode comes from the environment variable `CNNCOURSE_MODE` (`tiny`, `full`, or `auto`, the default, which
# means *full* when a CUDA GPU is present and *tiny* otherwise). Set it before starting JupyterLab, e.g.
# `CNNCOURSE_MODE=full jupyter lab`, or pass `mode="full"` to `setup`. Datasets are cached in the folder the banner
# prints (`~/.cache/cnncourse`, or `$CNNCOURSE_DATA`); pretrained weights in torch's hub cache.

# %%
import warnings

import matplotlib.pyplot as plt
import torch
import torchvision.models as tvm

import cnncourse
from cnncourse import profile

warnings.filterwarnings("ignore", category=UserWarning)
cfg = cnncourse.setup(seed=0)

# %% [markdown]
# `cfg` is what later chapters read: `cfg.device` for tensors and models, `cfg.data_dir` for datasets, and
# `cfg.pick(tiny=..., full=...)` to choose a size by mode without an `if` in every cell:

# %%
epochs = cfg.pick(tiny=3, full=30)
print(f"mode {cfg.mode}: this notebook would train for {epochs} epochs")

# %% [markdown]
# **Locally** (JupyterLab): clone the repository, then `pip install -r requirements.txt` and
# `jupyter lab --ServerApp.root_dir=notebooks` (the README has the exact commands).
# **On Colab**: open a notebook from its badge; choose *Runtime → Change runtime type → GPU* to get full mode.
# **Self-study**: the notebooks on GitHub show the outputs of a tiny-mode run.
#
# ## Three ways to make a network bigger
#
# Almost every architecture in this course is, among other things, an answer to *how should a network grow?*
# There are three knobs, and the final chapter (EfficientNet) turns them together:
#
# - **wider** — more channels per layer (VGG's 64→512, Wide ResNet);
# - **deeper** — more layers (VGG-11 → VGG-19, ResNet-18 → ResNet-152);
# - **higher resolution** — larger input images (Inception-v3 uses 299×299 instead of 224×224).
#
# They cost differently. A convolution with $C_\text{in}$ input and $C_\text{out}$ output channels and a $k\times k$
# kernel has $k^2 C_\text{in} C_\text{out}$ weights and does that many multiply-adds *at every output pixel*. So
# doubling the width multiplies both parameters and computation by about 4, doubling the depth multiplies both by
# about 2, and doubling the resolution leaves the parameters alone but multiplies computation by 4. We check
# this on a small plain CNN:

# %%
# NBVAL_CHECK_OUTPUT
from torch import nn


def plain_cnn(width: int = 32, depth: int = 4, num_classes: int = 10) -> nn.Sequential:
    """`depth` 3×3 conv + ReLU layers of `width` channels, then global average pooling and a linear classifier."""
    layers, channels = [], 3
    for _ in range(depth):
        layers += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU()]
        channels = width
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, num_classes))


variants = {
    "base (32 ch, 4 layers, 32 px)": (plain_cnn(32, 4), 32),
    "2x wider": (plain_cnn(64, 4), 32),
    "2x deeper": (plain_cnn(32, 8), 32),
    "2x resolution": (plain_cnn(32, 4), 64),
}
base_params = base_flops = None
print(f"{'variant':32s} {'params':>9s} {'MFLOPs':>8s} {'x params':>9s} {'x FLOPs':>8s}")
for name, (model, size) in variants.items():
    params, flops = profile.count_params(model), profile.count_flops(model, (1, 3, size, size))
    base_params, base_flops = base_params or params, base_flops or flops
    print(f"{name:32s} {params:9,d} {flops / 1e6:8.1f} {params / base_params:9.2f} {flops / base_flops:8.2f}")

# %% [markdown]
# Width is close to 4× but a little under: the first layer has only 3 input channels, so doubling the width only
# doubles its cost. Depth is a little *over* 2× for the mirror-image reason: the added layers are all of the
# expensive 32→32 kind, while the cheap 3→32 first layer is not repeated. Resolution leaves the parameter count
# untouched and quadruples the work — and the memory the activations need.

# %% [markdown]
# ## The models of this course on one chart
#
# torchvision ships ImageNet weights for most of the networks in this course, and each weight file carries
# metadata: the top-1 accuracy it reached on ImageNet's validation set and a parameter count. We build every model
# on PyTorch's `meta` device — shapes but no numbers, so even VGG costs nothing — and **measure** its parameters
# and FLOPs with `cnncourse.profile` instead of trusting the metadata.
#
# Two details decide whether numbers agree:
#
# - GoogLeNet's weights are counted without its auxiliary classifiers (they are dropped after training, ch. 07);
#   Inception-v3's weights keep them. We build each the way its weights were saved.
# - For ResNet-50/101/152 torchvision's *default* weights come from a 2021 training recipe (longer training, heavy
#   augmentation) that adds several points. To compare architectures rather than recipes we use the original
#   `IMAGENET1K_V1` weights everywhere.

# %%
# NBVAL_CHECK_OUTPUT
COURSE_MODELS = {  # torchvision name -> chapter
    "alexnet": "04", "vgg16": "05", "vgg19_bn": "05", "googlenet": "07", "inception_v3": "09",
    "resnet18": "10", "resnet34": "10", "resnet50": "10", "resnet101": "10", "resnet152": "10",
    "densenet121": "12", "densenet169": "12", "densenet201": "12", "densenet161": "12", "efficientnet_b0": "14",
}
BUILD_KWARGS = {"googlenet": {"aux_logits": False, "init_weights": False}, "inception_v3": {"init_weights": False}}

rows = []
for name, chapter in COURSE_MODELS.items():
    weights = tvm.get_model_weights(name)["IMAGENET1K_V1"]
    with torch.device("meta"):
        model = tvm.get_model(name, weights=None, **BUILD_KWARGS.get(name, {}))
    size = weights.transforms().crop_size[0]
    rows.append({
        "name": name, "chapter": chapter, "input": size,
        "params": profile.count_params(model),
        "gflops": profile.count_flops(model, (1, 3, size, size)) / 1e9,
        "top1": weights.meta["_metrics"]["ImageNet-1K"]["acc@1"],
        "meta_params": weights.meta["num_params"], "meta_gops": weights.meta["_ops"],
    })

print(f"{'model':16s} ch {'input':>5s} {'params':>12s} {'GFLOPs':>7s} {'top-1 %':>7s}")
for r in rows:
    print(f"{r['name']:16s} {r['chapter']} {r['input']:5d} {r['params']:12,d} {r['gflops']:7.2f} {r['top1']:7.2f}")

# %% [markdown]
# Does what we measured agree with torchvision's metadata? The parameter counts must match exactly. The
# computation is the interesting part: torchvision labels its number "GFLOPS", but it is within 0.1% of **half**
# of PyTorch's FLOP count, because it counts a multiply-add as one operation while PyTorch's counter (and this
# course) counts it as two. Papers are split the same way — always check which one a table uses.

# %%
# NBVAL_CHECK_OUTPUT
params_match = all(r["params"] == r["meta_params"] for r in rows)
ratios = [r["gflops"] / (2 * r["meta_gops"]) for r in rows]
print(f"parameter counts equal to torchvision's metadata for all {len(rows)} models: {params_match}")
print(f"measured FLOPs / (2 x torchvision 'GFLOPS'): between {min(ratios):.4f} and {max(ratios):.4f}")
v1, v2 = (tvm.ResNet50_Weights[w].meta["_metrics"]["ImageNet-1K"]["acc@1"] for w in ("IMAGENET1K_V1", "IMAGENET1K_V2"))
print(f"ResNet-50 top-1: {v1:.2f}% (original recipe) vs {v2:.2f}% (2021 recipe), +{v2 - v1:.2f} points, same network")

# %% [markdown]
# Now the chart: ImageNet top-1 accuracy against computation per image (log scale), each model a circle whose
# **radius** grows linearly with its parameter count (plus a small floor so the smallest models stay visible).

# %%
fig, ax = plt.subplots(figsize=(11, 6.5))
largest = max(r["params"] for r in rows)
LABEL_SIDE = {"googlenet": "left", "densenet169": "left", "resnet50": "right", "densenet201": "left",
              "inception_v3": "above", "resnet101": "below", "densenet161": "left", "vgg16": "left", "vgg19_bn": "above"}


def radius(params: float) -> float:
    """Circle radius in points: a floor of 3 so small models stay visible, then linear in the parameter count."""
    return 3 + 45 * params / largest


for r in rows:
    color = f"C{int(r['chapter']) % 10}"
    ax.scatter(r["gflops"], r["top1"], s=radius(r["params"]) ** 2, alpha=0.45, color=color, edgecolor="k")
    side = LABEL_SIDE.get(r["name"], "right")
    gap = radius(r["params"]) / 2 + 3
    offset, ha = {"right": ((gap, 0), "left"), "left": ((-gap, 0), "right"),
                  "above": ((0, gap + 4), "center"), "below": ((0, -gap - 4), "center")}[side]
    ax.annotate(r["name"], (r["gflops"], r["top1"]), xytext=offset, textcoords="offset points", fontsize=8,
                ha=ha, va="center")
for ref in (10e6, 50e6, 100e6):  # size legend
    ax.scatter([], [], s=radius(ref) ** 2, color="grey", alpha=0.3, edgecolor="k", label=f"{ref / 1e6:.0f} M params")
ax.legend(labelspacing=2.2, borderpad=1.4, loc="lower right", title="radius")
ax.set_xscale("log")
ax.set_xlabel("computation per 224×224 image (299×299 for Inception-v3), GFLOPs (multiply-add = 2), log scale")
ax.set_ylabel("ImageNet top-1 accuracy (%), torchvision IMAGENET1K_V1 weights")
ax.set_title("Course models: accuracy vs computation; circle radius grows linearly with parameters")
ax.grid(alpha=0.3, which="both")
plt.show()

# %% [markdown]
# What the chart already says, before we build anything:
#
# - **VGG** is the outlier in both directions: the most computation and parameters for less accuracy than
#   GoogLeNet, which came out the same year. Chapters 05–07 show where VGG's parameters sit (its first
#   fully-connected layer) and how GoogLeNet avoids them.
# - **ResNets** buy accuracy with depth at moderate cost; **DenseNets** reach similar accuracy with far fewer
#   parameters; **EfficientNet-B0** sits at the top left — the point of the last chapter.
# - Accuracy is not only architecture: the ResNet-50 recipe comparison above is worth as much as going from
#   ResNet-50 to ResNet-152.

# %%
# NBVAL_CHECK_OUTPUT
best = max(rows, key=lambda r: r["top1"] / r["gflops"])
print(f"most accuracy per GFLOP: {best['name']} ({best['top1']:.1f}% at {best['gflops']:.2f} GFLOPs)")

# %% [markdown]
# ## Exercises
#
# 1. Add `mobilenet_v3_large` and `resnext50_32x4d` to `COURSE_MODELS`. Where do they land on the chart?
# 2. Measure `resnet50` at 160, 224 and 320 pixels. How do its FLOPs scale with the side length, and why is the
#    parameter count unchanged?
# 3. Derive, from the layer sizes, the exact FLOP ratio of the "2x wider" `plain_cnn` that the table printed.
# 4. Switch the chart to torchvision's *default* weights. Which models move, and by how much?
