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
# # Solutions · 11 Inception-v4 and Inception-ResNet
#
# [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/cnncourse/cnncourse/blob/main/notebooks/solutions/11_inception_v4.ipynb)
#
# Worked solutions to the exercises of [chapter 11](../11_inception_v4.ipynb). Try each exercise before reading its
# solution. Every answer is computed by the code next to it and checked (an `assert`, `cfg.expect`, or a cell whose
# output nbval compares); the text after it explains the result.

# %%
# On Google Colab: install the course's helper package (Colab already has torch, so it is not reinstalled).
# Anywhere else this cell does nothing; locally, `pip install -r requirements.txt` has installed it.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "cnncourse @ git+https://github.com/cnncourse/cnncourse"], check=True)

# %%
import warnings

import matplotlib.pyplot as plt
import timm
import torch
from torch import nn
from torchvision.models import Inception_V3_Weights
from torchvision.transforms import v2 as T

import cnncourse
from cnncourse import data, models, profile
from cnncourse.models.inception_v4 import (
    InceptionResNetA, InceptionResNetB, InceptionResNetBlock, timm_to_inception_resnet_v2,
)

warnings.filterwarnings("ignore", category=UserWarning)
cfg = cnncourse.setup(seed=0)

# %% [markdown]
# ## Exercise 1
#
# Print `block_table(models.inception_resnet_v1())`. Where do its stem and blocks differ from v2's, and which stage
# holds most of its parameters?

# %% [markdown]
# The chapter's `block_table` lists every block; for the comparison a summary per stage is enough: the layers of
# the stem, then for each stage how many blocks it has, the shape it turns into what, and its share of the
# parameters. Both networks are built on the `meta` device (shapes only).

# %%
# NBVAL_CHECK_OUTPUT
STAGES = ("stem", "blocks_a", "reduction_a", "blocks_b", "reduction_b", "blocks_c", "conv7b", "fc")


def stage_summary(model: nn.Module, size: int = 299) -> dict[str, int]:
    """Print one row per stage (blocks, input → output C×H×W, parameters, share) and return the parameters."""
    x = torch.empty(1, 3, size, size, device="meta")
    total, params = profile.count_params(model), {}
    print(f"{model.name}: stem layers {[name for name, _ in model.stem.named_children()]}")
    print(f"  {'stage':12s} {'parts':>5s} {'input → output':26s} {'parameters':>12s} {'share':>6s}")
    for stage in STAGES:
        module = getattr(model, stage)
        if module is None:  # v1 has no conv7b
            continue
        x_in = x.mean(dim=(2, 3)) if stage == "fc" else x  # global average pooling before the classifier
        x = module(x_in)
        params[stage] = profile.count_params(module)
        parts = len(module) if isinstance(module, nn.Sequential) else 1  # stem layers, or blocks
        shapes = f"{'×'.join(map(str, x_in.shape[1:]))} → {'×'.join(map(str, x.shape[1:]))}"
        print(f"  {stage:12s} {parts:5d} {shapes:26s} {params[stage]:12,d} "
              f"{params[stage] / total:6.1%}")
    print(f"  {'total':12s} {'':5s} {'':26s} {total:12,d}")
    return params


with torch.device("meta"):
    v1, v2 = models.inception_resnet_v1(), models.inception_resnet_v2()
v1_params = stage_summary(v1)
v2_params = stage_summary(v2)
largest = {net.name: max(params, key=params.get) for net, params in ((v1, v1_params), (v2, v2_params))}
print(f"the largest stage: {largest}")
assert largest == {"inception_resnet_v1": "blocks_c", "inception_resnet_v2": "blocks_b"}

# %% [markdown]
# **Stem.** v1 uses the paper's figure 14: six plain convolutions and one pooling that end in 256 channels on the
# 35×35 grid (its last layer is a stride-2 convolution). Google's v2 takes Inception-v3's stem (a second max pooling
# instead of that stride-2 convolution) and adds an Inception-A-like block (`mixed5b`) that widens to 320 channels.
# **Blocks.** v1 has 5 / 10 / 5 blocks on grids of 256, 896 and 1792 channels, v2 10 / 20 / 10 on 320, 1088 and
# 2080, with wider branches (figures 16–19), plus `conv7b`, a 1×1 convolution to 1536 channels before the pooling.
# **Parameters.** v1 keeps most of its parameters in its five 8×8 C blocks (35%), just ahead of its ten B blocks;
# v2, with twice as many blocks of each kind, in its twenty 17×17 B blocks (40%), just ahead of its C blocks. In
# v1 the two stages hold about two thirds of the network, in v2 about three quarters. The C blocks are the widest but run on 64 positions
# only, so they are cheap in FLOPs for their size.

# %% [markdown]
# ## Exercise 2
#
# Repeat the scaling experiment with `InceptionResNetA(320, scale)` blocks (320 channels, fewer than the 1000 where
# the paper saw trouble). Does the growth without scaling depend on the width?

# %%
def activation_rms(block: type[InceptionResNetBlock], channels: int, scale: float, strong_branch: bool,
                   blocks: int = 20, train: bool = True) -> list[float]:
    """The chapter's experiment for any block type and width: RMS after each of ``blocks`` blocks (random input)."""
    torch.manual_seed(0)
    stack = [block(channels, scale) for _ in range(blocks)]
    if strong_branch:
        for b in stack:
            nn.init.kaiming_normal_(b.project.weight, nonlinearity="relu")
    x = torch.randn(4, channels, 6, 6)
    rms = [x.square().mean().sqrt().item()]
    with torch.no_grad():
        for b in stack:
            x = b.train(train)(x)
            rms.append(x.square().mean().sqrt().item())
    return rms


def growth(rms: list[float]) -> float:
    """Growth of the activation RMS from after the first block to after the last."""
    return rms[-1] / rms[1]


widths = {"A, 320 channels": (InceptionResNetA, 320), "B, 1088 channels": (InceptionResNetB, 1088)}
runs = {(name, s, strong): activation_rms(block, c, s, strong)
        for name, (block, c) in widths.items() for strong in (False, True) for s in (1.0, 0.2)}
print(f"{'blocks':18s} {'projection':>10s} {'scale 1':>8s} {'scale 0.2':>10s}")
for name in widths:
    for strong in (False, True):
        print(f"{name:18s} {'He' if strong else 'default':>10s} {growth(runs[name, 1.0, strong]):7.2f}× "
              f"{growth(runs[name, 0.2, strong]):9.2f}×")
for strong in (False, True):
    a, b = growth(runs["A, 320 channels", 1.0, strong]), growth(runs["B, 1088 channels", 1.0, strong])
    assert abs(a - b) / b < 0.05, "the growth without scaling should not depend on the width"

fig, ax = plt.subplots(figsize=(7, 4))
for (name, s, strong), rms in runs.items():
    if strong:
        ax.plot(rms, marker="o", markersize=3, linestyle="-" if name.startswith("A") else "--",
                label=f"{name}, scale {s:g}")
ax.set_xlabel("residual blocks passed")
ax.set_ylabel("activation RMS (input = 1)")
ax.set_title("He-initialised projections: 320-channel A blocks vs 1088-channel B blocks")
ax.grid(alpha=0.3)
ax.legend(fontsize="small")
plt.show()

# %% [markdown]
# No: the 320-channel A blocks grow exactly as fast as the 1088-channel B blocks, for each initialisation and scale.
# At initialisation the BatchNorms make every branch output unit-sized whatever the width, and a projection
# initialised by its fan-in keeps that size, so a block adds a contribution of the same relative size at any width.
# Whatever made the paper's wide networks die comes from training, not from the starting point; scaling tames the
# growth the same way at every width (and the released v2 scales its 320-channel A blocks too).

# %% [markdown]
# ## Exercise 3
#
# Build `models.inception_resnet_v2(scales=(1.0, 1.0, 1.0))`, load timm's weights into it (full mode) and compare its
# predictions on the photo with the scaled network's. What does that tell you about whether the scale can be changed
# after training?

# %% [markdown]
# Full mode loads Google's weights into both networks. Tiny mode never downloads, so it loads the same random weights
# into both instead: timm's randomly initialised model after one training-mode pass (so that BatchNorm's running
# statistics are not simply 0 and 1). The photo is preprocessed as the weights expect (pixels scaled to [-1, 1]), at
# 299×299 in full mode and 139×139 in tiny mode to keep it quick.

# %%
size = cfg.pick(tiny=139, full=299)
preprocess = T.Compose([T.Resize(round(size / 0.875), interpolation=T.InterpolationMode.BICUBIC, antialias=True),
                        T.CenterCrop(size), T.ToDtype(torch.float32, scale=True), T.Normalize([0.5] * 3, [0.5] * 3)])
photo = preprocess(torch.from_numpy(data.sample_image("china.jpg")).permute(2, 0, 1))[None]
if cfg.full:
    nets = {s: models.inception_resnet_v2(weights="DEFAULT", scales=s) for s in ((0.17, 0.10, 0.20), (1.0, 1.0, 1.0))}
else:
    torch.manual_seed(0)
    reference = timm.create_model("inception_resnet_v2", pretrained=False)
    with torch.no_grad():
        reference.train()(torch.randn(4, 3, 107, 107))
    state = timm_to_inception_resnet_v2(reference.state_dict())
    del reference
    nets = {}
    for s in ((0.17, 0.10, 0.20), (1.0, 1.0, 1.0)):
        with torch.device("meta"):
            nets[s] = models.inception_resnet_v2(scales=s)
        nets[s].load_state_dict(state, assign=True)
with torch.no_grad():
    logits = {s: net.eval()(photo)[0] for s, net in nets.items()}
categories = Inception_V3_Weights.DEFAULT.meta["categories"]
scaled, unscaled = logits.values()
for s, out in logits.items():
    top = out.softmax(0).topk(3)
    print(f"scales {s}: logits RMS {out.square().mean().sqrt():.3g}, top-3 "
          + ", ".join(f"{categories[i]} {100 * p:.1f}%" for p, i in zip(top.values, top.indices)))
change = ((unscaled - scaled).norm() / scaled.norm()).item()
print(f"the logits change by {change:.0%} of their size when the scales are set to 1")
assert change > 0.5, "the unscaled network should compute a very different function"

# %% [markdown]
# The scale is not a switch: it is part of the function the weights were trained with. Set to 1, every residual is
# 5 to 10 times larger than what the following layers were trained to receive, the error compounds through the 40
# blocks, and the logits change beyond recognition (printed above; in full mode the top-3 classes show what that
# does to the photo). What *can* be changed after training is where the scale lives: a 1×1 convolution is linear,
# so multiplying its weights and bias by the scale and then setting the scale to 1 computes the same function:

# %%
# NBVAL_CHECK_OUTPUT
folded = nets[1.0, 1.0, 1.0]
for original, block in zip(nets[0.17, 0.10, 0.20].modules(), folded.modules()):
    if isinstance(original, InceptionResNetBlock) and original.scale != 1.0:
        with torch.no_grad():
            block.project.weight.copy_(original.scale * original.project.weight)
            block.project.bias.copy_(original.scale * original.project.bias)
with torch.no_grad():
    difference = ((folded(photo)[0] - scaled).abs().max() / scaled.abs().max()).item()
print(f"scales folded into the projections, scale set to 1: same logits, relative difference < 1e-4: "
      f"{difference < 1e-4}")

# %% [markdown]
# ## Exercise 4
#
# In `activation_rms`, replace `block.train()` by `block.eval()` (BatchNorm then uses its initial running statistics,
# mean 0 and variance 1). How do the curves change, and why?

# %%
modes = {train: {(s, strong): activation_rms(InceptionResNetB, 1088, s, strong, train=train)
                 for strong in (False, True) for s in (1.0, 0.2)} for train in (True, False)}
print(f"{'BatchNorm':10s} {'projection':>10s} {'growth, scale 1':>15s} {'scale 0.2':>10s}   per-block factor, scale 1")
for train, curves in modes.items():
    for strong in (False, True):
        rms = curves[1.0, strong]
        factors = [b / a for a, b in zip(rms[1:], rms[2:])]
        print(f"{'train' if train else 'eval':10s} {'He' if strong else 'default':>10s} {growth(rms):14.2f}× "
              f"{growth(curves[0.2, strong]):9.2f}×   first {factors[0]:.3f}, last {factors[-1]:.3f}")


def rms_after(train: bool, input_scale: float) -> float:
    """RMS after 20 B blocks (He projection, scale 1) when the random input is multiplied by ``input_scale``."""
    torch.manual_seed(0)
    stack = nn.Sequential(*[InceptionResNetB(1088, 1.0) for _ in range(20)])
    for b in stack:
        nn.init.kaiming_normal_(b.project.weight, nonlinearity="relu")
    with torch.no_grad():
        return stack.train(train)(input_scale * torch.randn(4, 1088, 6, 6)).square().mean().sqrt().item()


homogeneity = {train: rms_after(train, 10.0) / rms_after(train, 1.0) for train in (True, False)}
with torch.no_grad():
    z = torch.randn(4, 1088, 6, 6)
    kept = (InceptionResNetB(1088).branch0.conv(z).var() / z.var()).item()
print(f"a default-initialised 1×1 convolution of the block keeps {kept:.2f} of its input's variance")
print(f"input ×10 → output ×{homogeneity[True]:.2f} with batch statistics, ×{homogeneity[False]:.2f} in eval mode")
eval_factors = [b / a for a, b in zip(modes[False][1.0, True][1:], modes[False][1.0, True][2:])]
assert abs(homogeneity[False] - 10) < 0.1 and homogeneity[True] < 3
assert max(eval_factors) - min(eval_factors) < 0.1  # growth by a roughly constant factor per block

fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
for ax, train in zip(axes, (True, False)):
    for (s, strong), rms in modes[train].items():
        ax.plot(rms, marker="o", markersize=3, label=f"scale {s:g}, {'He' if strong else 'default'} projection")
    ax.set_title(f"BatchNorm in {'training mode (batch statistics)' if train else 'eval mode (mean 0, variance 1)'}")
    ax.set_xlabel("Inception-ResNet-B blocks passed")
    ax.grid(alpha=0.3)
axes[0].set_ylabel("activation RMS (input = 1)")
axes[1].legend(fontsize="small")
plt.tight_layout()
plt.show()

# %% [markdown]
# In eval mode a freshly initialised BatchNorm is the identity, so nothing renormalises the branches: each of their
# convolutions shrinks the signal (PyTorch's default initialisation keeps about a third of the variance, printed
# above), the residuals are smaller, and the default-projection curves stay much lower. The shape changes too. With
# batch statistics a branch outputs the same size whatever it receives, so each block *adds* a fixed amount and the
# growth slows down (the per-block factor falls). Without them every layer is linear or ReLU, the block is
# proportional to its input (×10 in, ×10 out), and each block *multiplies* the activations by about the same
# factor — geometric growth, which over enough blocks runs away faster than the additive kind.

# %% [markdown]
# ## Exercise 5
#
# Inception-v4 and Inception-ResNet-v2 both accept 75×75 inputs. Which layers decide that minimum? (Hint: count the
# valid convolutions and poolings in the block table.)

# %%
# NBVAL_CHECK_OUTPUT
with torch.device("meta"):
    v4 = models.inception_v4()
for net in (v4.eval(), v2.eval()):  # eval mode: BatchNorm on a 1×1 grid needs no batch statistics
    x = torch.empty(1, 3, 75, 75, device="meta")
    shrinking = []
    for name, block in net.stages():
        y = block(x)
        if y.shape[-1] != x.shape[-1]:
            shrinking.append(f"{name} {x.shape[-1]}→{y.shape[-1]}")
        x = y
    print(f"{net.name}, 75×75 input: the grid shrinks at {len(shrinking)} layers: {', '.join(shrinking)}")
    x = torch.empty(1, 3, 74, 74, device="meta")
    for name, block in net.stages():
        try:
            x = block(x)
        except RuntimeError:
            print(f"  74×74: {name} gets a {x.shape[-1]}×{x.shape[-1]} grid, smaller than its 3×3 window")
            break

# Backwards from one pixel: a valid 3×3 layer needs n + 2 pixels, a valid 3×3 layer with stride 2 needs 2n + 1.
n = 1
for stride in (2, 2, 2, 1, 2, 1, 2):  # Reduction-B, Reduction-A, mixed5a, mixed4a, mixed3a, conv2a, conv1a
    n = 2 * n + 1 if stride == 2 else n + 2
print(f"smallest input by hand: {n}; min_input_size: Inception-v4 {v4.min_input_size}, "
      f"Inception-ResNet-v2 {v2.min_input_size}")
assert n == v4.min_input_size == v2.min_input_size == 75

# %% [markdown]
# Only the layers without padding decide it: seven valid 3×3 windows on the path through the network — five with
# stride 2 (Inception-v4: `conv1a`, `mixed3a`, `mixed5a`, Reduction-A and Reduction-B; v2 has max poolings in its
# stem where v4 has stride-2 blocks) and two with stride 1 (`conv2a`, `mixed4a` in v4; `conv2a`, `conv4a` in v2).
# Everything else pads to keep the grid. Going backwards from a 1×1 output, each stride-2 valid layer needs 2n + 1
# pixels and each stride-1 one n + 2, which gives 3, 7, 15, 17, 35, 37 and finally 75. At 74 pixels Reduction-B
# receives a 2×2 grid and its 3×3 window no longer fits.
