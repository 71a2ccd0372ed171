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
# # 14 · Scaling: EfficientNet (Part 2 preview)
#
# [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/cnncourse/cnncourse/blob/main/notebooks/14_efficientnet.ipynb)
#
# Every network in this course grew along one axis at a time: VGG and ResNet went **deeper**, Wide ResNet and
# Inception **wider**, Inception-v3 raised the **resolution** to 299×299. Each step was chosen by hand. Tan and Le
# (2019) asked how to grow all three together for a given budget of computation, and found a simple rule —
# *compound scaling* — plus a small, efficient starting network to apply it to, EfficientNet-B0. Its scaled
# versions B1 … B7 reached higher ImageNet accuracy than every earlier network at a fraction of their cost.
#
# This last chapter measures the three axes, derives the rule, builds B0's block (MBConv with squeeze-excitation)
# by hand, and ends the course by putting every model we built on one table and one chart.

# %%
# On Google Colab: install the course's helper package (Colab already has torch, so it is not reinstalled).
# Anywhere else this cell does nothing; locally, `pip install -r requirements.txt` has installed it.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "cnncourse @ git+https://github.com/cnncourse/cnncourse"], check=True)

# %%
import math
import warnings

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
import torchvision.models as tvm
from torch import nn

import cnncourse
from cnncourse import catalog, data, models, plot, profile, results, train
from cnncourse.models import efficientnet as E

warnings.filterwarnings("ignore", category=UserWarning)
cfg = cnncourse.setup(seed=0)

# %% [markdown]
# ## Three ways to grow a network, measured
#
# Take one network and grow it along one axis at a time. Our network is EfficientNet-B0 itself, whose seven stages
# of blocks are described by a small table (`E.B0_STAGES`, below). We make it
#
# - **deeper** by repeating every stage's block `depth` times as often (rounded up),
# - **wider** by multiplying every layer's channels by `width` (rounded to a multiple of 8),
# - and feed it **larger images**, `resolution` pixels a side.
#
# Every variant is built on the `meta` device (shapes, no numbers) and measured with PyTorch's FLOP counter
# (a multiply-add is 2 FLOPs).

# %%
# NBVAL_CHECK_OUTPUT
for stage in E.B0_STAGES:
    print(stage)


def b0_grown(width: float = 1.0, depth: float = 1.0, resolution: int = 224) -> tuple[int, int]:
    """Parameters and FLOPs of B0 with its channels × width, its repeats × depth, at resolution² pixels."""
    with torch.device("meta"):
        model = E.EfficientNet(E.scale_stages(width, depth)).eval()
    return profile.count_params(model), profile.count_flops(model, (1, 3, resolution, resolution))


factors = np.array([1.0, 2.0, 3.0, 4.0])
base = b0_grown()
grown = {
    "depth": [base] + [b0_grown(depth=f) for f in factors[1:]],
    "width": [base] + [b0_grown(width=f) for f in factors[1:]],
    "resolution": [base] + [b0_grown(resolution=round(224 * f)) for f in factors[1:]],
}
exponents = {}
lines = [f"\n{'factor':>6s} | " + " | ".join(f"{k + ' ×params':>17s} {'×FLOPs':>7s}" for k in grown)]
for i, f in enumerate(factors):
    cells = [f"{p / base[0]:17.2f} {fl / base[1]:7.2f}" for p, fl in (values[i] for values in grown.values())]
    lines.append(f"{f:6.1f} | " + " | ".join(cells))
for axis, values in grown.items():
    params, flops = np.log(np.array(values, dtype=float)).T
    exponents[axis] = (np.polyfit(np.log(factors), params, 1)[0], np.polyfit(np.log(factors), flops, 1)[0])
    lines.append(f"{axis:10s}: parameters ∝ factor^{exponents[axis][0]:.2f}, FLOPs ∝ factor^{exponents[axis][1]:.2f}")
print("\n".join(lines))

# %% [markdown]
# The fitted exponents are the slopes of the lines below (log–log axes). What the arithmetic of a convolution
# predicts — $k^2 C_\text{in} C_\text{out}$ weights, applied at each of $H \times W$ output pixels — and what we see:
#
# - **resolution** leaves the parameters alone and multiplies FLOPs by its square: exponent 2 (only the final
#   linear layer, which sees one pooled vector, does not grow);
# - **width** multiplies both $C_\text{in}$ and $C_\text{out}$ of the 1×1 convolutions, which hold most of the
#   weights and do most of the work: close to 2, but below it, because some parts grow only linearly with the
#   width — the depthwise convolutions ($k^2 C$ weights, one filter per channel), the BatchNorms, the stem (its
#   input is 3 colour channels whatever the width) and the classifier (its output is 1000 classes);
# - **depth** adds blocks, so cost grows about linearly: a network's cost is the sum over its blocks. The
#   parameter exponent is a little lower because the head and the classifier, a large share of B0's weights, are
#   not repeated.

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for ax, which, label in zip(axes, (0, 1), ("parameters", "FLOPs")):
    for axis, values in grown.items():
        y = np.array([v[which] for v in values], dtype=float)
        ax.plot(factors, y / y[0], "o-", label=f"{axis}: exponent {exponents[axis][which]:.2f}")
    for slope, style in ((1, ":"), (2, "--")):
        ax.plot(factors, factors**slope, style, color="grey", lw=1, label=f"factor^{slope}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(factors, [f"{f:g}" for f in factors])
    ax.set_xlabel("scale factor of one axis (log)")
    ax.set_ylabel(f"{label} relative to B0 (log)")
    ax.set_title(f"{label} as depth, width or resolution grows")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
fig.tight_layout()
plt.show()

# %% [markdown]
# The paper also trained these one-axis families: each axis helps, but the gain flattens quickly — a very deep
# network is hard to train well, a very wide but shallow one misses higher-level features, and a high resolution
# without more depth lacks the receptive field to use the extra detail. The axes depend on each other, which
# suggests growing them together.
#
# ## Compound scaling
#
# The rule: pick a compound coefficient $\varphi$ (how much more computation you can afford) and scale
#
# $$\text{depth } d = \alpha^\varphi, \qquad \text{width } w = \beta^\varphi, \qquad
#   \text{resolution } r = \gamma^\varphi, \qquad \text{subject to } \alpha \cdot \beta^2 \cdot \gamma^2 \approx 2 .$$
#
# Since FLOPs grow like $d \cdot w^2 \cdot r^2$ (the exponents measured above), every step of $\varphi$ roughly
# doubles the computation. The constants were found by a small grid search at $\varphi = 1$ on B0: α = 1.2,
# β = 1.1, γ = 1.15. `E.compound_scaling(φ)` is the rule; `E.scale_stages` turns a width and depth into a stage
# table — the same seven rows as B0, with more channels and more repeats.

# %%
# NBVAL_CHECK_OUTPUT
alpha, beta, gamma = 1.2, 1.1, 1.15
lines = [f"α·β²·γ² = {alpha} · {beta}² · {gamma}² = {alpha * beta**2 * gamma**2:.3f}  (≈ 2: FLOPs per step of φ)\n",
         f"{'φ':>2s} {'depth':>6s} {'width':>6s} {'res':>4s}  {'repeats per stage':25s} {'channels per stage':33s} "
         f"{'params':>11s} {'GFLOPs':>7s} {'× prev.':>7s}"]
rule_flops, rule_stages = [], []
for phi in range(8):
    depth, width, resolution = E.compound_scaling(phi, alpha, beta, gamma)
    rule_stages.append(E.scale_stages(width, depth))
    params, flops = b0_grown(width, depth, resolution) if phi else base
    ratio = f"{flops / rule_flops[-1]:7.2f}" if rule_flops else f"{'':7s}"
    rule_flops.append(flops)
    lines.append(f"{phi:2d} {depth:6.2f} {width:6.2f} {resolution:4d}  {str([s.repeats for s in rule_stages[-1]]):25s} "
                 f"{str([s.out_channels for s in rule_stages[-1]]):33s} {params:11,d} {flops / 1e9:7.2f} {ratio}")
growth = (rule_flops[-1] / rule_flops[0]) ** (1 / 7)
lines.append(f"\nFLOPs grew {rule_flops[-1] / rule_flops[0]:.0f}× over 7 steps: {growth:.2f}× per step "
             f"(the rule predicts {alpha * beta**2 * gamma**2:.2f}×)")
print("\n".join(lines))

# %% [markdown]
# Over seven steps the measured growth matches the rule's prediction closely; single steps do not, because depth
# is rounded *up* to whole blocks and width to multiples of 8. The first step shows it most: 1.2 × one block
# rounds up to two blocks, so the stages with a single block double at φ = 1.
#
# ### The released B0 … B7 are not exactly the rule
#
# The paper says B1 … B7 come from the rule with growing φ. The coefficients in its official code (which torchvision
# and `E.VARIANTS` copy) follow it only approximately. For each released model we work out which φ its
# depth, its width and its resolution each correspond to — $\varphi = \log d / \log \alpha$, and so on. With the pure
# rule all three would be equal.

# %%
# NBVAL_CHECK_OUTPUT
released = catalog.catalog(models.list_models(chapter=14))  # measured at torchvision's input sizes
print(f"{'model':15s} {'depth':>5s} {'width':>5s} {'res':>4s} {'tv res':>6s} | {'φ depth':>7s} {'φ width':>7s} "
      f"{'φ res':>6s} | {'params':>11s} {'GFLOPs':>7s} {'× prev.':>7s}")
for i, (row, v) in enumerate(zip(released, E.VARIANTS.values())):
    phis = [math.log(v.depth) / math.log(alpha), math.log(v.width) / math.log(beta),
            math.log(v.resolution / 224) / math.log(gamma)]
    ratio = f"{row.flops / released[i - 1].flops:7.2f}" if i else f"{'':7s}"
    print(f"{row.name:15s} {v.depth:5.1f} {v.width:5.1f} {v.resolution:4d} {row.input_size:6d} | "
          + " ".join(f"{p:7.2f}" for p in phis[:2])
          + f" {phis[2]:6.2f} | {row.params:11,d} {row.flops / 1e9:7.2f} {ratio}")
total = released[-1].flops / released[0].flops
print(f"\nB0 → B7: {total:.0f}× the FLOPs, {total ** (1 / 7):.2f}× per model on average")
same_layers = [f"φ = {phi} those of {name.upper()}" for phi, stages in enumerate(rule_stages) for name, v in
               E.VARIANTS.items() if phi and E.scale_stages(v.width, v.depth) == stages]
print(f"the rule builds exactly the layers of a released model at: {'; '.join(same_layers) or 'no φ > 0'}")
b2 = E.VARIANTS["b2"]
print(f"B2 at torchvision's {E.crop_size('b2')} px instead of the paper's {b2.resolution} px: "
      f"({E.crop_size('b2')}/{b2.resolution})² = {(E.crop_size('b2') / b2.resolution) ** 2:.2f}× the FLOPs")
same = all(r.params == tvm.get_model_weights(r.name).DEFAULT.meta["num_params"] for r in released)
print(f"parameters equal to torchvision's metadata for all {len(released)}: {same}; "
      f"EfficientNet-B0: {released[0].params:,d}")

# %% [markdown]
# Read the φ columns row by row. B1 is not "φ = 1": it is B0 1.1× deeper, at the same width and at 240 pixels.
# From B3 on, width, depth and resolution each correspond to a different φ, with depth consistently behind. Because
# of the rounding, the pure rule's φ = 1 and φ = 2 build exactly the layers of the released B2 and B3 — at 258 and
# 296 pixels instead of 260 and 300. Two more differences matter when you compare numbers:
#
# - "res" is the paper's resolution; torchvision evaluates its weights at "tv res", and the table measures FLOPs
#   there, where the published accuracy was measured. For B2 that is 288 pixels instead of 260 (its weights come
#   from another training run), which makes torchvision's B2 costlier than the paper's.
# - B5–B7's weights were trained in TensorFlow, whose BatchNorm adds ε = 10⁻³ to the variance instead of PyTorch's
#   10⁻⁵; `E.VARIANTS` records that so their outputs match.
#
# All eight are built from B0's table and four numbers each (six for B5–B7, with TensorFlow's BatchNorm ε and
# momentum; `E.VARIANTS`); the tests check every one against
# torchvision's model (keys, shapes, outputs given the same weights). Here B0:

# %%
# NBVAL_CHECK_OUTPUT
b0 = models.efficientnet_b0()
x = torch.randn(2, 3, 64, 64)
print(models.check_twin(b0, tvm.efficientnet_b0(), x))
print(models.check_twin(b0, tvm.efficientnet_b0(), x, train=True))

# %% [markdown]
# (The second check runs both in training mode with the same random seed: the same images get their residual
# branches dropped by stochastic depth, explained below.)
#
# ## The block: MBConv with squeeze-excitation
#
# B0 was not designed by hand but found by a neural architecture search (the same search space as MnasNet),
# optimising accuracy and FLOPs together. Nearly all of it is one block, the **mobile inverted bottleneck**
# (MBConv, from MobileNetV2), with a squeeze-excitation gate:
#
# 1. **expand**: a 1×1 convolution multiplies the channels by 6 (BatchNorm, SiLU);
# 2. **depthwise**: a 3×3 or 5×5 convolution with one filter per channel (`groups = channels`), the only layer
#    that looks at neighbouring pixels, and the only one with stride 2 when the block down-samples;
# 3. **squeeze-excitation** (Hu et al., 2017): average every channel over the whole image, pass the vector through
#    a small bottleneck (1×1 convolutions, a quarter of the block's *input* channels), and multiply each channel by
#    the resulting sigmoid gate in (0, 1) — the network re-weights its channels per image;
# 4. **project**: a 1×1 convolution back to few channels, *without* an activation (a non-linearity on the thin
#    output would destroy information, the MobileNetV2 argument);
# 5. a **residual** connection when the input and output have the same shape — stride 1 and the same channels.
#
# It is a ResNet bottleneck turned inside out: thin at the ends (where the residual sits), wide in the middle.
# By hand, with functional operations and the package block's weights:

# %%
def conv_bn_by_hand(x: torch.Tensor, layer: nn.Sequential, act: bool = True) -> torch.Tensor:
    """Convolution → BatchNorm with its running statistics (eval mode) → optional SiLU."""
    conv, bn = layer[0], layer[1]
    x = F.conv2d(x, conv.weight, stride=conv.stride, padding=conv.padding, groups=conv.groups)
    x = (x - bn.running_mean[:, None, None]) / torch.sqrt(bn.running_var[:, None, None] + bn.eps)
    x = x * bn.weight[:, None, None] + bn.bias[:, None, None]
    return x * torch.sigmoid(x) if act else x  # SiLU(x) = x·σ(x)


def squeeze_excite_by_hand(x: torch.Tensor, se: nn.Module) -> torch.Tensor:
    """Channel means → 1×1 conv (as a matrix) → SiLU → 1×1 conv → sigmoid → one gate per channel."""
    squeezed = x.mean(dim=(2, 3))  # N×C
    hidden = F.silu(squeezed @ se.fc1.weight.flatten(1).T + se.fc1.bias)  # N×C/… (1×1 conv = matrix product)
    gate = torch.sigmoid(hidden @ se.fc2.weight.flatten(1).T + se.fc2.bias)  # N×C, in (0, 1)
    return x * gate[:, :, None, None]


def mbconv_by_hand(x: torch.Tensor, block: E.MBConv, expand: bool = True) -> torch.Tensor:
    layers = list(block.block)
    h = conv_bn_by_hand(x, layers.pop(0)) if expand else x  # 1. expand
    h = conv_bn_by_hand(h, layers[0])  # 2. depthwise
    h = squeeze_excite_by_hand(h, layers[1])  # 3. squeeze-excitation
    h = conv_bn_by_hand(h, layers[2], act=False)  # 4. project, no activation
    return h + x if block.use_res_connect else h  # 5. residual only when the shapes match


# %%
# NBVAL_CHECK_OUTPUT
torch.manual_seed(0)
cases = {"40 → 40, k3, stride 1 (residual)": (40, 40, 6, 3, 1), "24 → 40, k5, stride 2": (24, 40, 6, 5, 2),
         "32 → 16, k3, no expansion": (32, 16, 1, 3, 1)}
for label, (cin, cout, expand, k, stride) in cases.items():
    block = E.MBConv(cin, cout, expand, k, stride).eval()
    with torch.no_grad():
        for bn in (m for m in block.modules() if isinstance(m, nn.BatchNorm2d)):  # non-trivial BN statistics
            bn.running_mean.uniform_(-0.5, 0.5), bn.running_var.uniform_(0.5, 2.0), bn.weight.uniform_(0.5, 1.5)
        x = torch.randn(2, cin, 16, 16)
        ours, package = mbconv_by_hand(x, block, expand=expand != 1), block(x)
    print(f"{label:34s} out {tuple(package.shape)}, residual {block.use_res_connect!s:5s}, "
          f"max abs difference < 1e-5: {(ours - package).abs().max().item() < 1e-5}")
se = E.SqueezeExcitation(240, 10)
x = torch.randn(2, 240, 7, 7)
print(f"squeeze-excitation 240 → 10 → 240: max abs difference < 1e-5: "
      f"{(squeeze_excite_by_hand(x, se) - se(x)).abs().max().item() < 1e-5}")
print(E.MBConv(40, 40, 6, 3, 1))  # the five-part block: expand, depthwise, squeeze-excitation, project, residual

# %% [markdown]
# The package's `E.MBConv` and `E.SqueezeExcitation` — what every EfficientNet here is built from — are in turn
# tested against torchvision's own blocks in `tests/test_models_efficientnet.py`.
#
# **Stochastic depth** (Huang et al., 2016) is the block's regulariser: while training, each image skips the
# residual branch with probability $p$ (the block becomes the identity for it) and survivors are scaled by
# $1/(1-p)$ so the expected output is unchanged; at test time every block runs. EfficientNet raises $p$ linearly
# with the block's position, from 0 at the first block to just under 0.2 at the last — deep blocks are dropped
# most often. (Blocks without a residual connection are never dropped: there would be nothing left.)

# %%
# NBVAL_CHECK_OUTPUT
b0_blocks = [m for m in b0.modules() if isinstance(m, E.MBConv)]
p = [blk.stochastic_depth.p for blk in b0_blocks]
print(f"B0: {len(b0_blocks)} MBConv blocks, {sum(blk.use_res_connect for blk in b0_blocks)} with a residual; "
      f"drop probability from {p[0]:.3f} to {p[-1]:.4f}")
layer = E.StochasticDepth(0.25).train()
torch.manual_seed(0)
out = layer(torch.ones(10_000, 1))
dropped = (out == 0).float().mean().item()
print(f"p = 0.25 on 10,000 images: dropped fraction within 0.02 of p: {abs(dropped - 0.25) < 0.02}; survivors × "
      f"{out.max().item():.4f} = 1 / (1 - p); mean within 0.03 of 1: {abs(out.mean().item() - 1) < 0.03}")

# %% [markdown]
# ### Swish / SiLU
#
# EfficientNet replaces ReLU by $\text{SiLU}(x) = x \cdot \sigma(x)$ (found by an automated search, where it was
# called *swish*). Unlike ReLU it is smooth, lets small negative values through and is not monotonic: it dips
# below zero before it rises.

# %%
# NBVAL_CHECK_OUTPUT
xs = torch.linspace(-6, 6, 120_001)
print(f"F.silu(x) equals x·sigmoid(x): {torch.allclose(F.silu(xs), xs * torch.sigmoid(xs), atol=1e-6)}")
i = F.silu(xs).argmin()
print(f"minimum of SiLU: {F.silu(xs)[i]:.4f} at x = {xs[i]:.3f}; SiLU(6) = {F.silu(xs[-1]):.4f} (ReLU: 6)")
xs.requires_grad_(True)
(slope,) = torch.autograd.grad(F.silu(xs).sum(), xs)
print(f"its derivative: largest {slope.max():.4f} at x = {xs[slope.argmax()]:.3f}; at x = -6 {slope[0]:.4f} "
      f"(ReLU's: exactly 0 for every x < 0)")

# %%
fig = plot.plot_activation_functions({"ReLU": torch.relu, "SiLU": F.silu}, x_range=(-6.0, 6.0))
plt.show()

# %% [markdown]
# Its derivative is not a step: it changes smoothly, overshoots 1 for positive inputs, and fades out gradually for
# negative ones instead of being exactly 0, so a unit pushed below zero still gets a little gradient.
#
# ## Depthwise convolution's cost, revisited
#
# Chapter 09 split a convolution into a depthwise and a pointwise part. MBConv lives on that idea: the only
# spatial filtering is depthwise. Take one of B0's depthwise layers (stage 5): 5×5 filters over 672 channels on a
# 14×14 map.

# %%
# NBVAL_CHECK_OUTPUT
c, k, side = 672, 5, 14
with torch.device("meta"):
    dense = nn.Conv2d(c, c, k, padding=2, bias=False)
    depthwise = nn.Conv2d(c, c, k, padding=2, groups=c, bias=False)
shape = (1, c, side, side)
for label, conv in (("dense 5×5, 672 → 672", dense), ("depthwise 5×5, 672 channels", depthwise)):
    print(f"{label:28s} {profile.count_params(conv):12,d} weights {profile.count_flops(conv, shape) / 1e6:9.1f} MFLOPs")
print(f"depthwise is {profile.count_params(dense) // profile.count_params(depthwise)}× cheaper "
      f"(= the number of channels: each output channel reads one input channel, not all {c})")

torch.manual_seed(0)
block = E.MBConv(112, 112, 6, 5, 1).eval()  # one of B0's stage-5 blocks
flops = profile.count_flops(block, (1, 112, side, side), by_module=True)
parts = {"expand 1×1": "MBConv.block.0", "depthwise 5×5": "MBConv.block.1", "squeeze-excitation": "MBConv.block.2",
         "project 1×1": "MBConv.block.3"}
print(f"\nMBConv 112 → 672 → 112 on 14×14: {profile.count_params(block):,d} parameters, "
      f"{flops['Global'] / 1e6:.1f} MFLOPs, of which")
for label, key in parts.items():
    print(f"  {label:20s} {flops[key] / flops['Global']:6.1%}")
basic = nn.Sequential(nn.Conv2d(112, 112, 3, padding=1, bias=False), nn.Conv2d(112, 112, 3, padding=1, bias=False))
print(f"for comparison, two dense 3×3 convolutions 112 → 112 (a ResNet basic block): "
      f"{profile.count_params(basic):,d} parameters, "
      f"{profile.count_flops(basic, (1, 112, side, side)) / 1e6:.1f} MFLOPs")

# %% [markdown]
# The depthwise layer, the only one that looks at neighbouring pixels, does a tenth of the block's arithmetic; the two
# 1×1 convolutions do almost all the rest, and the squeeze-excitation costs next to nothing. That is why MBConv can
# afford six times more channels in its middle than at its ends.
#
# FLOPs are not time, though. A depthwise convolution does few operations per value it reads, so its speed is
# limited by memory traffic, not arithmetic; processors reach a much smaller fraction of their peak on it. Timed
# on this machine (not a checked output):

# %%
x = torch.randn(2, c, side, side, device=cfg.device)
with torch.no_grad():
    dense_real = nn.Conv2d(c, c, k, padding=2, bias=False).to(cfg.device)
    depthwise_real = nn.Conv2d(c, c, k, padding=2, groups=c, bias=False).to(cfg.device)
    seconds = {name: profile.time_call(lambda m=m: m(x), min_run_time=cfg.pick(tiny=0.2, full=1.0))
               for name, m in (("dense", dense_real), ("depthwise", depthwise_real))}
for name, conv in (("dense", dense_real), ("depthwise", depthwise_real)):
    gflops = profile.count_flops(conv, tuple(x.shape)) / 1e9
    print(f"{name:10s} {1e3 * seconds[name]:7.2f} ms per batch of 2 → {gflops / seconds[name]:6.1f} GFLOP/s "
          f"on {cfg.device}")

# %% [markdown]
# The depthwise layer is far cheaper in FLOPs but runs at a much lower rate of FLOPs per second. This is why
# EfficientNets are less fast in practice than their FLOP counts suggest, and one reason EfficientNetV2 (2021)
# replaced the early MBConv blocks by "fused" ones with a dense 3×3 convolution.
#
# ## Training: MBConv vs plain convolutions at the same FLOPs
#
# Does the block learn as well per FLOP? We build a small EfficientNet from our own stage table (`E.EfficientNet`
# takes any table) and a plain network of 3×3 convolution + BatchNorm + SiLU layers, and size both to similar FLOPs.
# Tiny mode trains on the 1×32×32 handwritten digits, full mode on CIFAR-10 (3×32×32) with twice the width.

# %%
train_set, test_set, class_names = data.small_images(cfg, augment=True)
channels = train_set[0][0].shape[0]
MULT = {"tiny": 1.0, "full": 2.0}  # full mode: every layer twice as wide
mult = cfg.pick(**MULT)


def small_mbconv_net(mult: float, in_channels: int, regularise: float = 0.0) -> E.EfficientNet:
    """Stem 3×3/2 to 16 channels, 5 MBConv blocks in 3 stages (8, 16, 24 channels), head to 96 (× mult).

    ``regularise`` is the dropout before the classifier and the stochastic-depth probability the blocks grow towards.
    """
    stages = E.scale_stages(mult, 1.0, [E.Stage(1, 3, 1, 16, 8, 1), E.Stage(4, 3, 2, 8, 16, 2),
                                        E.Stage(4, 5, 2, 16, 24, 2)])
    return E.EfficientNet(stages, dropout=regularise, num_classes=10, stochastic_depth_prob=regularise,
                          in_channels=in_channels, stem_stride=2, name="small MBConv net")


def plain_net(widths: tuple[int, ...], mult: float, in_channels: int) -> nn.Sequential:
    """Per width: a stride-2 3×3 conv then a stride-1 3×3 conv (both + BN + SiLU); then pooling and a classifier."""
    layers, c_in = [], in_channels
    for w in (E.make_divisible(w * mult) for w in widths):
        layers += [E.ConvBNAct(c_in, w, 3, stride=2), E.ConvBNAct(w, w, 3)]
        c_in = w
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, 10))


# %%
# NBVAL_CHECK_OUTPUT
print(f"{'mode':4s}  {'network':10s} {'width':>5s} {'parameters':>10s} {'MFLOPs per image':>16s}")
for mode, in_channels in (("tiny", 1), ("full", 3)):
    size = (1, in_channels, 32, 32)
    for label, net in (("MBConv net", small_mbconv_net(MULT[mode], in_channels)),
                       ("plain net", plain_net((8, 16, 24), MULT[mode], in_channels))):
        print(f"{mode:4s}  {label:10s} {MULT[mode]:4.0f}× {profile.count_params(net):10,d} "
              f"{profile.count_flops(net, size) / 1e6:7.2f} ({in_channels}×32×32)")

# %%
EPOCHS = {"tiny": 4, "full": 30}  # no paper schedule: the paper compares its blocks on ImageNet only
epochs = cfg.pick(**EPOCHS)
regularise = cfg.pick(tiny=0.0, full=0.1)  # stochastic depth and dropout only slow a 4-epoch run down
histories, seconds = {}, {}
for label, build in (("MBConv", lambda: small_mbconv_net(mult, channels, regularise)),
                     ("plain", lambda: plain_net((8, 16, 24), mult, channels))):
    torch.manual_seed(0)
    net = build()
    train_loader, test_loader = data.loaders(train_set, test_set, batch_size=cfg.pick(tiny=64, full=128), seed=0,
                                             device=cfg.device)
    optimizer = torch.optim.AdamW(train.param_groups(net, 0.01), lr=cfg.pick(tiny=1e-2, full=3e-3))
    histories[label] = train.fit(net, train_loader, epochs, val_loader=test_loader, optimizer=optimizer,
                                 schedule="cosine", device=cfg.device, verbose=False,
                                 checkpoint=cfg.checkpoint(f"14_efficientnet-{label.lower()}"))
    seconds[label] = sum(row.get("seconds", 0.0) for row in histories[label].epochs)
    print(f"{label:7s} test accuracy {100 * histories[label].last['val_acc']:.1f}% after {epochs} epochs, "
          f"{seconds[label] / epochs:.2f} s per epoch on {cfg.device}")
print(f"the MBConv net takes {seconds['MBConv'] / seconds['plain']:.1f}× as long per epoch")
cfg.expect(all(h.last["val_acc"] > 0.6 for h in histories.values()), "both networks should learn (chance is 10%)")
fig = plot.plot_history(histories, title=f"MBConv net vs plain net of similar FLOPs, {epochs} epochs")
plt.show()

# %% [markdown]
# On the digits (tiny mode) both networks reach high test accuracy within a few epochs, and one short run on such an
# easy task cannot rank the blocks; full mode's CIFAR-10 runs (30 epochs each) are a fairer test, though the paper
# made its comparisons on ImageNet. Two things to look for in the curves:
#
# - The MBConv net's *test* curve can start far below its training curve and then catch up, as it does in the
#   stored tiny-mode run. That is not over-fitting but BatchNorm: at test time it uses running averages of the
#   batch statistics, and these trail weights that change quickly in the first epochs — with three BatchNorms per
#   block, the errors compound (exercise 4 checks it).
# - At similar FLOPs the MBConv net takes longer per epoch (the printed ratio; several times longer on a CPU): its
#   expanded activations, depthwise convolutions and squeeze-excitation move a lot of memory for little
#   arithmetic — the previous section's point, now for a whole training step.
#
# ## The closing comparison: every model of the course
#
# `cnncourse.catalog` reads the model registry — every builder the chapters registered — and measures each
# ImageNet model on the `meta` device at its registered input size (224×224; 299×299 for the Inception family; each
# EfficientNet at the size torchvision evaluates it at): the parameters inference uses (auxiliary classifiers
# excluded) and the FLOPs. The top-1 accuracy is read from the metadata of torchvision's weights; we take each
# model's *first* published weights (`IMAGENET1K_V1`), for most models trained with its paper's recipe, so that the
# table compares architectures more than training recipes (chapter 00 shows what a 2021 recipe adds to ResNet-50;
# torchvision's EfficientNet-B0…B4 are timm's retrainings, B5…B7 ports of the paper's TensorFlow weights). Models
# whose reference is timm (Inception-v4, Inception-ResNet-v2 and chapter 13's BiT ResNetV2s) are measured too, but timm's metadata carries no accuracy;
# course-only variants have no published weights. Chapter 00's chart reads the same function.

# %%
# NBVAL_CHECK_OUTPUT
rows = catalog.catalog()
print(catalog.format_catalog(rows))

# %%
ranked = [r for r in rows if r.top1 is not None]
fig = catalog.chart(rows, title=f"The course's {len(ranked)} ImageNet models with a torchvision top-1: accuracy vs "
                                "computation (bubble area = parameters)")
plt.show()

# %% [markdown]
# A model is on the **Pareto frontier** when no other model is both cheaper and more accurate; the frontier is
# what the field could buy for a given budget. And for a fixed target — the accuracy of the best VGG — the cheapest
# model of each chapter that reaches it:

# %%
# NBVAL_CHECK_OUTPUT
frontier = [r for r in ranked if not any(o.flops < r.flops and o.top1 > r.top1 for o in ranked)]
print("Pareto frontier (cheapest first):")
for r in sorted(frontier, key=lambda r: r.flops):
    print(f"  {r.name:18s} {r.year}  {r.flops / 1e9:6.2f} GFLOPs  {r.top1:.2f}%  {r.params / 1e6:6.2f} M parameters")
vgg_best = max((r for r in ranked if r.chapter == 5), key=lambda r: r.top1)
print(f"\nreaching {vgg_best.name}'s {vgg_best.top1:.2f}% ({vgg_best.flops / 1e9:.1f} GFLOPs, "
      f"{vgg_best.params / 1e6:.0f} M parameters):")
for chapter in sorted({r.chapter for r in ranked if r.chapter > 5}):
    able = [r for r in ranked if r.chapter == chapter and r.top1 >= vgg_best.top1]
    if able:
        r = min(able, key=lambda r: r.flops)
        print(f"  ch {chapter:02d} {r.name:18s} {r.flops / 1e9:6.2f} GFLOPs ({vgg_best.flops / r.flops:5.1f}× fewer), "
              f"{r.params / 1e6:6.2f} M parameters ({vgg_best.params / r.params:5.1f}× fewer)")
    else:
        print(f"  ch {chapter:02d} none of its models reaches it")

# %% [markdown]
# What did each idea buy? Each line compares a model with the one it improved on (skipped if either is not in
# the table):

# %%
# NBVAL_CHECK_OUTPUT
by_name = {r.name: r for r in ranked}
steps = [
    ("alexnet", "vgg16", "deeper: stacks of 3×3 convolutions"),
    ("vgg16", "vgg16_bn", "batch normalisation"),
    ("vgg16", "googlenet", "Inception modules, 1×1 reductions, GAP"),
    ("googlenet", "inception_v3", "factorised convolutions, BN, 299 px"),
    ("vgg19_bn", "resnet50", "residual bottlenecks"),
    ("resnet50", "resnet152", "3× deeper ResNet"),
    ("resnet50", "resnext50_32x4d", "grouped convolutions"),
    ("resnet50", "densenet121", "dense connectivity"),
    ("resnet50", "efficientnet_b0", "MBConv + SE, searched block"),
    ("efficientnet_b0", "efficientnet_b4", "compound scaling"),
]
print(f"{'from':16s} → {'to':16s} {'Δ top-1':>8s} {'× FLOPs':>8s} {'× params':>9s}  idea")
for old, new, idea in steps:
    if old in by_name and new in by_name:
        a, b = by_name[old], by_name[new]
        print(f"{old:16s} → {new:16s} {b.top1 - a.top1:+8.2f} {b.flops / a.flops:8.2f} "
              f"{b.params / a.params:9.2f}  {idea}")

# %% [markdown]
# **Reading the chart.** Left to right is cost, bottom to top is accuracy, and the bubbles are memory for weights.
#
# - **AlexNet → VGG** (2012–2014) bought accuracy with brute force: many more FLOPs for the depth, and the
#   biggest bubbles of all — most of their weights sit in the fully-connected classifier. BatchNorm (the `_bn`
#   variants) adds accuracy at no cost in FLOPs.
# - **GoogLeNet** (same year) came close to VGG-16 with a small fraction of its computation and parameters:
#   1×1 reductions (NiN's idea) and global average pooling instead of big dense layers.
# - **ResNet and Inception-v3** (2015) moved the cloud up: residual connections made depth trainable, factorised
#   convolutions made Inception cheaper per layer. ResNeXt and Wide ResNet (2016) buy more accuracy from the same
#   residual design with grouped convolutions or width, and going 3× deeper buys a couple of points for 3× the
#   FLOPs — returns are diminishing.
# - **DenseNet** (2016) reaches accuracy near ResNet-50's with fewer FLOPs and a third of the parameters.
# - **EfficientNet** (2019) is the upper-left edge of the chart, and the whole Pareto frontier above: B0 beats
#   ResNet-50 with a tenth of its FLOPs, and B1 … B7 trace a curve above every earlier model at every budget. Its
#   ideas — a searched, depthwise-separable block with squeeze-excitation, and compound scaling — buy accuracy
#   per FLOP; the timing sections showed that their FLOPs run at a lower rate, so they buy less per second than
#   their FLOP counts suggest.
#
# Caveats: the top-1 numbers come from different training recipes (EfficientNet-B5…B7's include AutoAugment and
# longer training; the ResNets' V1 weights do not), and a FLOP count says nothing about memory traffic.
#
# ## Full mode: B0 classifies a photo
#
# With pretrained weights (full mode downloads torchvision's weight file of about 20 MB once) the B0 we built
# classifies a photo from scikit-learn, preprocessed the way its weights expect (resize to 256, centre crop 224, bicubic).

# %%
if cfg.full:
    weights = tvm.EfficientNet_B0_Weights.IMAGENET1K_V1
    photo = data.sample_image("china.jpg")
    image = weights.transforms()(torch.from_numpy(photo).permute(2, 0, 1))
    pretrained = models.efficientnet_b0(weights=weights).eval().to(cfg.device)
    with torch.no_grad():
        probs = pretrained(image[None].to(cfg.device)).softmax(dim=1)[0].cpu()
    fig = plot.plot_top_classes(photo, probs, weights.meta["categories"],
                                "EfficientNet-B0 (torchvision ImageNet weights): top-5 classes")
    plt.show()
else:
    print(f"tiny mode: prediction with pretrained EfficientNet-B0 weights skipped (it needs a "
          f"{tvm.EfficientNet_B0_Weights.IMAGENET1K_V1.meta['_file_size']:.0f} MB download); "
          "run with CNNCOURSE_MODE=full to see its top-5 classes")

# %% [markdown]
# ## What full mode costs, and the results
#
# Full mode trains the two small networks of the training section on CIFAR-10 at twice the width; the same in both
# schedules, since the paper has no such experiment. Their cost, estimated from the networks' FLOPs
# (`profile.estimate_minutes`; the README states its assumptions), plus the one-time downloads of CIFAR-10 and of
# B0's weights:

# %%
# NBVAL_CHECK_OUTPUT
with torch.device("meta"):
    full_runs = [small_mbconv_net(MULT["full"], 3, 0.1), plain_net((8, 16, 24), MULT["full"], 3)]
minutes = sum(profile.estimate_minutes(net, (3, 32, 32), images=50_000, epochs=EPOCHS["full"], batch_size=128,
                                       eval_images=10_000) for net in full_runs)
estimated = {"class": minutes, "paper": minutes}
print(f"full mode, either schedule: {EPOCHS['full']} epochs per network, about {minutes:.1f} GPU minutes for both")

# %%
b0_row = next(r for r in rows if r.name == "efficientnet_b0")
figures = {
    "parameters, EfficientNet-B0": b0_row.params,
    "GFLOPs, EfficientNet-B0 (224 px)": b0_row.flops / 1e9,
    "FLOPs growth per step of φ, compound scaling rule": growth,
    "models on the Pareto frontier (published top-1 vs FLOPs)": len(frontier),
    "test accuracy, small MBConv net (%)": 100 * histories["MBConv"].last["val_acc"],
    "test accuracy, plain net of similar FLOPs (%)": 100 * histories["plain"].last["val_acc"],
}
rule = f"{alpha * beta**2 * gamma**2:.2f} (α·β²·γ²)"
references = {"parameters, EfficientNet-B0": tvm.EfficientNet_B0_Weights.DEFAULT.meta["num_params"],
              "FLOPs growth per step of φ, compound scaling rule": rule}
_ = results.record(cfg, "14_efficientnet", figures, references=references, estimated_minutes=estimated)

# %% [markdown]
# ## Exercises
#
# Worked solutions: [solutions/14_efficientnet.ipynb](solutions/14_efficientnet.ipynb) [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/cnncourse/cnncourse/blob/main/notebooks/solutions/14_efficientnet.ipynb)
#
# 1. Grid search like the paper: for α, β, γ on a grid of steps of 0.05 with α·β²·γ² between 1.9 and 2.1, build B0
#    scaled by (α, β, γ) and list the FLOPs of each. Which combinations give the same FLOPs? (Without training you
#    cannot pick the best one — that is what the paper's grid search paid for.)
# 2. Replace the squeeze-excitation in every MBConv of B0 by `nn.Identity()` and count what it loses in parameters
#    and FLOPs. Is SE expensive?
# 3. Scale the small MBConv network of the training section with φ = 1 (depth × 1.2, width × 1.1, input 32 → 37
#    pixels) and, separately, by width alone to the same FLOPs. Which one reaches the higher test accuracy in full
#    mode?
# 4. Train the small MBConv network for one epoch, then evaluate it on the test set twice: in eval mode (running
#    BatchNorm statistics) and in training mode (each batch's own statistics). Which is better, and why does the
#    difference shrink after more epochs?
# 5. In full mode, train the small MBConv network without squeeze-excitation and compare the curves on CIFAR-10.
#    What does SE buy?
# 6. Add a model of your own to the registry (`@register_model(chapter=14, twin="torchvision")` on a builder for
#    `mobilenet_v3_large`, say) and re-run the closing table. Where does it land on the chart?
# 7. The chart uses each model's first weights. Switch the table to `catalog.catalog(weights="DEFAULT")`: which
#    models move, and does the ranking of *architectures* change?
