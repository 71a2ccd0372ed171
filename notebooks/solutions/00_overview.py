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
# # Solutions · 00 Overview: how to run this course, and where its models stand
#
# [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/cnncourse/cnncourse/blob/main/notebooks/solutions/00_overview.ipynb)
#
# Worked solutions to the exercises of [chapter 00](../00_overview.ipynb). Try each exercise before reading its
# solution. Every answer is computed by the code next to it and checked (an `assert`, or a cell whose output nbval
# compares); the text after it explains the result.

# %%
# On Google Colab: install the course's helper package (Colab already has torch, so it is not reinstalled).
# Anywhere else this cell does nothing; locally, `pip install -r requirements.txt` has installed it.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "cnncourse @ git+https://github.com/cnncourse/cnncourse"], check=True)

# %%
import warnings
from fractions import Fraction

import matplotlib.pyplot as plt
import torch
import torchvision.models as tvm
from torch import nn

import cnncourse
from cnncourse import catalog, models, profile

warnings.filterwarnings("ignore", category=UserWarning)
cfg = cnncourse.setup(seed=0)

# %% [markdown]
# ## Exercise 1
#
# Measure torchvision's `mobilenet_v3_large` the way the catalog does (built on the `meta` device,
# `profile.inference_cost` at 224×224) and read its top-1 from its weights' metadata. Where would it land on the
# chart?

# %%
# NBVAL_CHECK_OUTPUT
mobilenet_weights = tvm.MobileNet_V3_Large_Weights.IMAGENET1K_V1
with torch.device("meta"):
    mobilenet = tvm.mobilenet_v3_large()  # shapes only: measuring it computes nothing
cost = profile.inference_cost(mobilenet, (1, 3, 224, 224))
mobilenet_top1 = mobilenet_weights.meta["_metrics"]["ImageNet-1K"]["acc@1"]
print(f"mobilenet_v3_large: {cost.params:,d} parameters ({cost.params / 1e6:.2f} M), "
      f"{cost.flops / 1e9:.3f} GFLOPs at 224×224, top-1 {mobilenet_top1:.2f}% ({mobilenet_weights.name})")
print(f"parameters equal torchvision's metadata: {cost.params == mobilenet_weights.meta['num_params']}; "
      f"FLOPs / (2 x torchvision 'GFLOPS'): {cost.flops / (2e9 * mobilenet_weights.meta['_ops']):.3f}")

# %% [markdown]
# Now the course's models, measured by the catalog (this list grows as chapters register models, so its output is
# not compared by nbval; the `assert` below is the checked answer):

# %%
rows = catalog.catalog()
ranked = [r for r in rows if r.top1 is not None]
cheaper = [r for r in ranked if r.flops < cost.flops]
dominating = [r for r in ranked if r.flops <= cost.flops and r.top1 >= mobilenet_top1]
beaten = sorted((r for r in ranked if r.top1 < mobilenet_top1), key=lambda r: r.top1)
cheapest = min(ranked, key=lambda r: r.flops)
print(f"registered models with fewer FLOPs than mobilenet_v3_large: {len(cheaper)}; the cheapest is "
      f"{cheapest.name} at {cheapest.flops / 1e9:.2f} GFLOPs ({cheapest.flops / cost.flops:.1f}x as many)")
print(f"models at most as expensive and at least as accurate: {[r.name for r in dominating] or 'none'}")
print(f"it is more accurate than {len(beaten)} of the {len(ranked)}, e.g. {', '.join(r.name for r in beaten[-4:])}")
assert not dominating, "some registered model is both cheaper and more accurate"

# %%
fig = catalog.chart(rows)
ax = fig.axes[0]
ax.scatter([cost.flops / 1e9], [mobilenet_top1], marker="*", s=400, color="black", zorder=5)
ax.annotate("mobilenet_v3_large\n(exercise 1, not in the course)", (cost.flops / 1e9, mobilenet_top1), xytext=(8, -24),
            textcoords="offset points", fontsize=8)
plt.show()

# %% [markdown]
# MobileNetV3-Large needs fewer FLOPs than every ImageNet model of the course (the printed ratio is to the
# cheapest of them) at about the accuracy of VGG-19-BN, so it sits at the far left, on the upper-left edge of the
# cloud: no registered model is both cheaper and more accurate. It gets there with depthwise-separable
# convolutions and inverted bottlenecks, found by architecture search — the same family of ideas as EfficientNet
# in chapter 14.

# %% [markdown]
# ## Exercise 2
#
# Measure `resnet50` at 160, 224 and 320 pixels. How do its FLOPs scale with the side length, and why is the
# parameter count unchanged?

# %%
# NBVAL_CHECK_OUTPUT
with torch.device("meta"):
    resnet50 = tvm.resnet50()  # chapter 10 builds the course's twin of it; torchvision's has the same layers
fc_flops = 2 * resnet50.fc.in_features * resnet50.fc.out_features  # the classifier: independent of the image size
base = profile.count_flops(resnet50, (1, 3, 224, 224))
trunk = nn.Sequential(*list(resnet50.children())[:-2])  # everything before the global pooling and the FC layer
per_pixel = set()
print(f"{'side':>5s} {'params':>12s} {'GFLOPs':>7s} {'vs 224':>7s} {'(side/224)²':>12s} {'last map':>9s}")
for side in (160, 224, 320):
    flops = profile.count_flops(resnet50, (1, 3, side, side))
    per_pixel.add(Fraction(flops - fc_flops, side**2))
    last = trunk(torch.zeros(1, 3, side, side, device="meta")).shape[-1]  # the map global pooling averages
    print(f"{side:5d} {profile.count_params(resnet50):12,d} {flops / 1e9:7.3f} {flops / base:7.3f} "
          f"{(side / 224) ** 2:12.3f} {last:6d}×{last}")
print(f"FLOPs = {int(next(iter(per_pixel))):,d} x side² + {fc_flops:,d} (the FC layer) at all three sides: "
      f"{len(per_pixel) == 1}")

# %% [markdown]
# The FLOPs grow with the **square** of the side length: every convolution does its work once per output pixel,
# and the number of output pixels of every layer is proportional to side². Here the law is exact — the FLOPs are
# one constant times side² plus the fully-connected layer's fixed 4.1 MFLOPs — because 160, 224 and 320 are all
# multiples of 32, so every stride-2 layer halves its map without rounding. The parameters do not change because a
# convolution's weights depend only on its kernel size and channel counts, and the global average pooling before
# the classifier turns any final map (5×5, 7×7 or 10×10) into the same 2048 numbers.

# %% [markdown]
# ## Exercise 3
#
# Derive, from the layer sizes, the exact FLOP ratio of the "2x wider" `plain_cnn` that the table printed.

# %%
# NBVAL_CHECK_OUTPUT
def plain_cnn(width: int = 32, depth: int = 4, num_classes: int = 10) -> nn.Sequential:
    """Chapter 00's network: `depth` 3×3 conv + ReLU layers of `width` channels, GAP, a linear classifier."""
    layers, channels = [], 3
    for _ in range(depth):
        layers += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU()]
        channels = width
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, num_classes))


def derived_flops(width: int, depth: int = 4, side: int = 32, num_classes: int = 10) -> int:
    """2 FLOPs per multiply-add: 3×3 convs at every one of side² pixels, then the linear layer."""
    first = 2 * 9 * 3 * width * side**2  # 3 -> width
    others = (depth - 1) * 2 * 9 * width * width * side**2  # width -> width
    return first + others + 2 * width * num_classes


ratio = Fraction(derived_flops(64), derived_flops(32))
measured = Fraction(profile.count_flops(plain_cnn(64), (1, 3, 32, 32)),
                    profile.count_flops(plain_cnn(32), (1, 3, 32, 32)))
print(f"derived:  {derived_flops(64):,d} / {derived_flops(32):,d} FLOPs = {ratio} = {float(ratio):.6f}")
print(f"measured with profile.count_flops equals the derivation: {measured == ratio}")
print(f"without the linear layer: (3·64 + 3·64²) / (3·32 + 3·32²) = {Fraction(3 * 64 + 3 * 64**2, 3 * 32 + 3 * 32**2)}"
      f" = {(3 * 64 + 3 * 64**2) / (3 * 32 + 3 * 32**2):.6f}")

# %% [markdown]
# A 3×3 convolution costs $2 \cdot 9 \cdot C_\text{in} C_\text{out}$ FLOPs per pixel. Doubling the width
# quadruples the three $32 \to 32$ layers ($C^2$) but only doubles the first layer, whose input stays at 3
# channels, and the linear layer: so the ratio is $(3\cdot64 + 3\cdot64^2)/(3\cdot32 + 3\cdot32^2) = 130/33$, a
# little under 4 (the linear layer's 640 → 1,280 FLOPs change it only in the sixth significant digit, as printed).
# The measured count agrees with the derivation exactly, as a fraction.

# %% [markdown]
# ## Exercise 4
#
# Switch the chart to torchvision's *default* weights (`catalog.catalog(weights="DEFAULT")`). Which models move,
# and by how much?

# %%
default_rows = catalog.catalog(weights="DEFAULT")
moves = {a.name: (a, b) for a, b in zip(rows, default_rows) if a.top1 is not None and a.top1 != b.top1}
print(f"{'model':18s} {'first weights':>14s} {'default weights':>22s} {'change':>7s}")
for name, (v1, default) in moves.items():
    print(f"{name:18s} {v1.top1:7.2f} {v1.weights:>6s} {default.top1:7.2f} {default.weights:>14s} "
          f"{default.top1 - v1.top1:+7.2f}")
print(f"{len(ranked) - len(moves)} of {len(ranked)} models do not move: their default weights are their first ones")
# the movers are exactly the models whose torchvision default is a later set of weights, and only accuracy moves
later = {r.name for r in ranked
         if tvm.get_model_weights(models.model_info(r.name).twin_name).DEFAULT.name != catalog.ORIGINAL_WEIGHTS}
assert set(moves) == later
assert all(a.flops == b.flops and a.params == b.params for a, b in zip(rows, default_rows))
assert all(b.top1 > a.top1 for a, b in moves.values())

# %%
fig = catalog.chart(default_rows, title="The course's models with torchvision's default weights (arrows: the move)")
ax = fig.axes[0]
for v1, default in moves.values():
    ax.annotate("", xy=(default.flops / 1e9, default.top1), xytext=(v1.flops / 1e9, v1.top1),
                arrowprops={"arrowstyle": "->", "color": "black", "lw": 1.2})
plt.show()

# %% [markdown]
# Only the models whose torchvision default is a later set of weights move, and only upwards: the larger ResNets,
# ResNeXt-50 and Wide ResNet-50-2 gain 3 to 5 points with the 2021 recipe (longer training, stronger augmentation,
# label smoothing, averaged weights), EfficientNet-B1 about 1 point with its V2 weights (the printed table). Their
# FLOPs and parameters stay put, because the architecture is the same: the arrows are vertical. The chart then
# compares training recipes as much as architectures — which is why the catalog uses every model's first weights.
