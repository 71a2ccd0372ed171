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
# - **full** — real datasets (MNIST, CIFAR-10) and pretrained weights, downloaded once and cached. Meant for a GPU.
#   Training runs as long as a lesson allows: each chapter's *class* schedule takes minutes on one GPU (the chapter
#   says what it runs and estimates the time). `CNNCOURSE_SCHEDULE=paper` runs a paper's own schedule instead,
#   where the chapter reproduces a paper's experiment — up to hours (chapters 10 and 12). Every full-mode training run saves a
#   checkpoint after each epoch in the data folder, so running an interrupted cell again resumes it.
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
from cnncourse import catalog, profile

warnings.filterwarnings("ignore", category=UserWarning)
cfg = cnncourse.setup(seed=0)

# %% [markdown]
# `cfg` is what later chapters read: `cfg.device` for tensors and models, `cfg.data_dir` for datasets,
# `cfg.checkpoint(...)` for where a training run saves itself, and `cfg.pick(tiny=..., full=..., paper=...)` to
# choose a size by mode (and in full mode by schedule) without an `if` in every cell:

# %%
epochs = cfg.pick(tiny=3, full=30, paper=164)
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
# Every chapter registers the models it builds (`cnncourse.models.list_models()`), with the chapter that teaches
# it and its reference twin in torchvision or timm. `cnncourse.catalog` reads that registry, so the table and the
# chart below grow by themselves as chapters are added. For each ImageNet model it
#
# - builds the course's own version on PyTorch's `meta` device — shapes but no numbers, so even VGG costs nothing —
#   and **measures** its parameters and FLOPs with `cnncourse.profile`, at the input size the model was made for
#   (224×224; 299×299 for the Inception family; 240–600 for EfficientNet-B1…B7, the sizes torchvision evaluates
#   them at);
# - reads the **top-1 accuracy** on ImageNet's validation set from the metadata of torchvision's weights.
#
# Two details decide whether numbers agree:
#
# - The parameters are those inference uses. GoogLeNet and Inception-v3 also carry auxiliary classifiers that only
#   help training (chapter 07); they are built, but not counted.
# - For ResNet-50 and others, torchvision's *default* weights come from a 2021 training recipe (longer training,
#   heavy augmentation) that adds several points. To compare architectures rather than recipes the catalog uses
#   each model's first weights, `IMAGENET1K_V1`, everywhere.

# %%
# NBVAL_CHECK_OUTPUT
rows = catalog.catalog()
ranked = [r for r in rows if r.top1 is not None]
print(f"{len(rows)} ImageNet models registered so far, {len(ranked)} of them with torchvision weights:\n")
print(catalog.format_catalog(ranked))

# %% [markdown]
# Does what we measured agree with torchvision's own metadata for the same weights? The parameter counts should
# match exactly, except where a weight file holds more than inference uses. The computation is the interesting
# part: torchvision labels its number "GFLOPS", but it is close to **half** of PyTorch's FLOP count, because it
# counts a multiply-add as one operation while PyTorch's counter (and this course) counts it as two. Papers are
# split the same way — always check which one a table uses.

# %%
# NBVAL_CHECK_OUTPUT
meta = {r.name: tvm.get_model_weights(r.name)[r.weights].meta for r in ranked}
differ = [r for r in ranked if r.params != meta[r.name]["num_params"]]
print(f"parameters used at inference equal torchvision's metadata for {len(ranked) - len(differ)} of {len(ranked)} "
      f"models; the others:")
for r in differ:
    print(f"  {r.name}: {r.params:,d} used; the weight file holds {meta[r.name]['num_params']:,d}, which is all the "
          f"model's parameters, auxiliary classifier included: {meta[r.name]['num_params'] == r.stored_params}")
ratios = {r.name: r.flops / (2e9 * meta[r.name]["_ops"]) for r in ranked}
print(f"measured FLOPs / (2 x torchvision 'GFLOPS'): between {min(ratios.values()):.4f} and {max(ratios.values()):.4f}")
v1, v2 = (tvm.ResNet50_Weights[w].meta["_metrics"]["ImageNet-1K"]["acc@1"] for w in ("IMAGENET1K_V1", "IMAGENET1K_V2"))
print(f"ResNet-50 top-1: {v1:.2f}% (original recipe) vs {v2:.2f}% (2021 recipe), +{v2 - v1:.2f} points, same network")

# %% [markdown]
# Now the chart: ImageNet top-1 accuracy against computation per image (log scale), each model a circle whose
# **area** is proportional to its parameter count (with a small minimum so the smallest models stay visible),
# coloured by the chapter that builds it. Chapter 14 ends the course with the same chart.

# %%
fig = catalog.chart(rows)
plt.show()

# %% [markdown]
# What the chart already says, before we build anything:
#
# - **VGG** is the outlier: by far the most parameters and, until EfficientNet-B7, the most computation, for
#   accuracy that GoogLeNet, from the same year, nearly matches at a small fraction of both. Chapters 05–07 show where VGG's parameters
#   sit (its first fully-connected layer) and how GoogLeNet avoids them.
# - **ResNets** buy accuracy with depth at moderate cost; **DenseNets** reach similar accuracy with far fewer
#   parameters; the **EfficientNets** form the upper-left edge — the point of the last chapter.
# - Accuracy is not only architecture: the ResNet-50 recipe comparison above is worth more than going from
#   ResNet-50 to ResNet-152 (both differences printed below).

# %%
# NBVAL_CHECK_OUTPUT
best = max(ranked, key=lambda r: r.top1 / r.flops)
print(f"most accuracy per GFLOP: {best.name} ({best.top1:.1f}% at {best.flops / 1e9:.2f} GFLOPs)")
top1 = {r.name: r.top1 for r in ranked}
print(f"ResNet-50 → ResNet-152: +{top1['resnet152'] - top1['resnet50']:.2f} points; ResNet-50's 2021 recipe: "
      f"+{v2 - v1:.2f} points")

# %% [markdown]
# ## Exercises
#
# Worked solutions: [solutions/00_overview.ipynb](solutions/00_overview.ipynb) [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/cnncourse/cnncourse/blob/main/notebooks/solutions/00_overview.ipynb)
#
# 1. Measure torchvision's `mobilenet_v3_large` the way the catalog does (built on the `meta` device,
#    `profile.inference_cost` at 224×224) and read its top-1 from its weights' metadata. Where would it land on
#    the chart?
# 2. Measure `resnet50` at 160, 224 and 320 pixels. How do its FLOPs scale with the side length, and why is the
#    parameter count unchanged?
# 3. Derive, from the layer sizes, the exact FLOP ratio of the "2x wider" `plain_cnn` that the table printed.
# 4. Switch the chart to torchvision's *default* weights (`catalog.catalog(weights="DEFAULT")`). Which models
#    move, and by how much?
