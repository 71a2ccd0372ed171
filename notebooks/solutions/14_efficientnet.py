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
# # Solutions · 14 Scaling: EfficientNet
#
# [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/cnncourse/cnncourse/blob/main/notebooks/solutions/14_efficientnet.ipynb)
#
# Worked solutions to the exercises of [chapter 14](../14_efficientnet.ipynb). Try each exercise before reading its
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
import copy
import warnings

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
import torchvision.models as tvm
from torch import nn
from torch.utils.data import TensorDataset

import cnncourse
from cnncourse import catalog, data, models, plot, profile, train
from cnncourse.models import efficientnet as E
from cnncourse.models.registry import register_model

warnings.filterwarnings("ignore", category=UserWarning)
cfg = cnncourse.setup(seed=0)

# %% [markdown]
# ## Exercise 1
#
# Grid search like the paper: for α, β, γ on a grid of steps of 0.05 with α·β²·γ² between 1.9 and 2.1, build B0 scaled
# by (α, β, γ) and list the FLOPs of each. Which combinations give the same FLOPs? (Without training you cannot pick the
# best one — that is what the paper's grid search paid for.)

# %% [markdown]
# We let every axis grow (each coefficient at least 1.05), depth up to 1.4 and width and resolution up to 1.25, which
# keeps the search small. Many combinations build the *same* network, so each network is built once and its FLOPs
# counted once per resolution.

# %%
# NBVAL_CHECK_OUTPUT
steps = lambda low, high: [round(low + 0.05 * i, 2) for i in range(round((high - low) / 0.05) + 1)]  # noqa: E731
grid = [(a, b, g) for a in steps(1.05, 1.4) for b in steps(1.05, 1.25) for g in steps(1.05, 1.25)
        if 1.9 <= a * b**2 * g**2 <= 2.1]
networks, flops = {}, {}
for a, b, g in grid:
    stages = tuple(E.scale_stages(b, a))
    if stages not in networks:
        with torch.device("meta"):
            networks[stages] = E.EfficientNet(stages).eval()
    resolution = round(224 * g)
    key = (stages, resolution)
    if key not in flops:
        flops[key] = profile.count_flops(networks[stages], (1, 3, resolution, resolution))
groups: dict[int, list[tuple[float, float, float]]] = {}
for a, b, g in grid:
    groups.setdefault(flops[tuple(E.scale_stages(b, a)), round(224 * g)], []).append((a, b, g))
b0_flops = profile.count_flops(E.EfficientNet(E.B0_STAGES).eval(), (1, 3, 224, 224))
print(f"{len(grid)} combinations (α, β, γ), {len(networks)} different networks, {len(groups)} different FLOP counts")
print(f"{'GFLOPs':>6s} {'× B0':>5s}  combinations (α, β, γ)")
for value, combos in sorted(groups.items()):
    print(f"{value / 1e9:6.3f} {value / b0_flops:5.2f}  " + " ".join(f"({a}, {b}, {g})" for a, b, g in combos))
assert len(groups) < len(grid) and (1.2, 1.1, 1.15) in grid

# %% [markdown]
# The rounding makes whole families of combinations identical: the 40 combinations build only 12 different networks.
# Depth is rounded *up* to whole blocks: B0's stages have 1–4 blocks, so every α from 1.05 to 1.25 adds exactly one
# block to every stage and builds the same layers. Width is rounded to multiples of 8, so neighbouring β often give the
# same channels. Only the resolution, rounded to whole pixels, separates most combinations — which is why several (α, β,
# γ) share a row above, and why the grid over FLOPs is much coarser than the grid over coefficients. The paper's (1.2,
# 1.1, 1.15) is one of them; choosing it over its neighbours required training each candidate, which no FLOP count can
# replace.

# %% [markdown]
# ## Exercise 2
#
# Replace the squeeze-excitation in every MBConv of B0 by `nn.Identity()` and count what it loses in parameters and
# FLOPs. Is SE expensive?

# %%
# NBVAL_CHECK_OUTPUT
def without_se(model: nn.Module) -> nn.Module:
    """``model`` with every `E.SqueezeExcitation` replaced by ``nn.Identity()`` (in place); returns it."""
    for module in list(model.modules()):
        for name, child in module.named_children():
            if isinstance(child, E.SqueezeExcitation):
                setattr(module, name, nn.Identity())
    return model


with torch.device("meta"):
    b0, b0_plain = models.efficientnet_b0(), without_se(models.efficientnet_b0())
size = (1, 3, 224, 224)
params = {name: profile.count_params(net) for name, net in (("with SE", b0), ("without SE", b0_plain))}
costs = {name: profile.count_flops(net, size) for name, net in (("with SE", b0), ("without SE", b0_plain))}
se_modules = sum(isinstance(m, E.SqueezeExcitation) for m in b0.modules())
for name in params:
    print(f"B0 {name:10s} {params[name]:10,d} parameters {costs[name] / 1e9:6.3f} GFLOPs")
lost_p, lost_f = params["with SE"] - params["without SE"], costs["with SE"] - costs["without SE"]
print(f"{se_modules} SE modules: {lost_p:,d} parameters ({lost_p / params['with SE']:.1%}), "
      f"{lost_f / 1e6:.1f} MFLOPs ({lost_f / costs['with SE']:.1%})")
assert se_modules == 16 and 0 < lost_f / costs["with SE"] < 0.02 < lost_p / params["with SE"]

# %% [markdown]
# In FLOPs SE is almost free, 0.2% of B0's: it works on one pooled vector per image, so its 1×1 convolutions run once
# instead of at every pixel (the counter leaves out the multiplication by the gates, one operation per value, which is
# little too). In parameters it is not free: 12% of B0's weights, because its two fully-connected layers act on the
# expanded channels, up to 1152 of them in the last stages. On hardware its real cost lies elsewhere — the global
# pooling must see the whole feature map before the block can continue, which costs time and memory traffic that FLOPs
# do not show.

# %% [markdown]
# The next three exercises train the chapter's small MBConv network. Full mode does it as the chapter does: CIFAR-10
# (3×32×32) at twice the width, 30 epochs (exercise 4: fewer). Tiny mode keeps the whole notebook within its time
# budget: the handwritten digits at 16×16 pixels (the 8×8 scans enlarged twice, so nothing is lost) and 3 epochs.

# %%
if cfg.full:
    train_set, test_set, _ = data.small_images(cfg, augment=True)
else:
    train_set, test_set = data.digits(size=32, seed=0)
    train_set, test_set = (TensorDataset(F.avg_pool2d(ds.tensors[0], 2), ds.tensors[1]) for ds in (train_set, test_set))
channels, side = train_set[0][0].shape[0], train_set[0][0].shape[-1]
mult, epochs, regularise = cfg.pick(tiny=1.0, full=2.0), cfg.pick(tiny=3, full=30), cfg.pick(tiny=0.0, full=0.1)
SMALL = [E.Stage(1, 3, 1, 16, 8, 1), E.Stage(4, 3, 2, 8, 16, 2), E.Stage(4, 5, 2, 16, 24, 2)]  # the chapter's table


def small_net(width: float = 1.0, depth: float = 1.0, resolution: int | None = None, se: bool = True) -> nn.Module:
    """The chapter's small MBConv net scaled by ``width`` and ``depth`` (on top of the mode's width), optionally
    without SE; with ``resolution`` its input is first interpolated to that many pixels a side."""
    net = E.EfficientNet(E.scale_stages(mult * width, depth, SMALL), dropout=regularise, num_classes=10,
                         stochastic_depth_prob=regularise, in_channels=channels, stem_stride=2, name="small MBConv")
    net = net if se else without_se(net)
    if resolution is None or resolution == side:
        return net
    return nn.Sequential(nn.Upsample(size=resolution, mode="bilinear", align_corners=False), net)


def fit(net: nn.Module, run: str, n_epochs: int = epochs, schedule: str = "cosine") -> train.History:
    """The chapter's recipe: AdamW with weight decay 0.01 on the weights, the mode's learning rate, cosine decay."""
    train_loader, test_loader = data.loaders(train_set, test_set, batch_size=cfg.pick(tiny=64, full=128), seed=0,
                                             device=cfg.device)
    optimizer = torch.optim.AdamW(train.param_groups(net, 0.01), lr=cfg.pick(tiny=1e-2, full=3e-3))
    return train.fit(net, train_loader, n_epochs, val_loader=test_loader, optimizer=optimizer, schedule=schedule,
                     device=cfg.device, verbose=False, checkpoint=cfg.checkpoint(f"14_efficientnet-solutions-{run}"))


# %% [markdown]
# ## Exercise 3
#
# Scale the small MBConv network of the training section with φ = 1 (depth × 1.2, width × 1.1, input 32 → 37 pixels)
# and, separately, by width alone to the same FLOPs. Which one reaches the higher test accuracy in full mode?

# %%
compound_res = round(side * 1.15)  # 32 → 37 in full mode, 16 → 18 in tiny mode
with torch.device("meta"):  # shapes only: counting FLOPs costs nothing
    target = profile.count_flops(small_net(1.1, 1.2, compound_res), (1, channels, side, side))
    candidates = {w: profile.count_flops(small_net(w), (1, channels, side, side))
                  for w in (round(1 + 0.05 * i, 2) for i in range(1, 21))}
width_only = min(candidates, key=lambda w: abs(candidates[w] - target))
nets = {f"φ = 1 (depth × 1.2, width × 1.1, {compound_res} px)": lambda: small_net(1.1, 1.2, compound_res),
        f"width × {width_only} alone ({side} px)": lambda: small_net(width_only)}
print(f"width × 1.1: stage channels {[s.out_channels for s in E.scale_stages(mult, 1.0, SMALL)]} → "
      f"{[s.out_channels for s in E.scale_stages(mult * 1.1, 1.0, SMALL)]} (rounded to multiples of 8)")
scaling_runs = {}
for i, (label, build) in enumerate(nets.items()):
    torch.manual_seed(0)
    net = build()
    mflops = profile.count_flops(net, (1, channels, side, side)) / 1e6
    scaling_runs[label] = fit(net, f"scaling{i}")
    print(f"{label:42s} {profile.count_params(net):8,d} parameters {mflops:6.2f} MFLOPs, "
          f"test accuracy {100 * scaling_runs[label].last['val_acc']:.1f}%")
cfg.expect(all(h.last["val_acc"] > 0.5 for h in scaling_runs.values()), "both scaled networks should learn")

# %% [markdown]
# At this size the compound rule mostly adds depth: width × 1.1 rounds back to the same multiples of 8 in tiny mode
# and widens only the last stage in full mode (printed), and the 15% longer side (about a third more pixels) of the φ = 1 input comes from
# interpolation. CIFAR-10's photos have 32×32 pixels, and the
# digits 8×8, so a 37-pixel input shows no detail the network could not see before: it only makes every feature map a
# little larger. The paper's resolution axis assumes that a larger photo exists (ImageNet's are several hundred
# pixels a side). The printed accuracies of the full-mode run answer the question for CIFAR-10; the tiny run only
# shows that both variants learn the digits, which cannot separate them. Expect no clear winner on small images:
# compound scaling's advantage in the paper comes from using all three axes where each carries information.

# %% [markdown]
# ## Exercise 4
#
# Train the small MBConv network for one epoch, then evaluate it on the test set twice: in eval mode (running BatchNorm
# statistics) and in training mode (each batch's own statistics). Which is better, and why does the difference shrink
# after more epochs?

# %%
@torch.no_grad()
def accuracy(net: nn.Module, batch_statistics: bool) -> float:
    """Test accuracy with BatchNorm's running statistics, or with each test batch's own (everything else in eval)."""
    net = copy.deepcopy(net).eval()  # a copy: in training mode BatchNorm would also update its running statistics
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.train(batch_statistics)
    _, test_loader = data.loaders(train_set, test_set, batch_size=cfg.pick(tiny=64, full=128), seed=0,
                                  device=cfg.device)
    correct = total = 0
    for x, y in test_loader:
        correct += (net(x.to(cfg.device)).argmax(1) == y.to(cfg.device)).sum().item()
        total += len(y)
    return correct / total


torch.manual_seed(0)
net = small_net()
later_epochs = cfg.pick(tiny=3, full=9)
results_bn = {}
fit(net, "bn-epoch1", n_epochs=1, schedule="constant")
results_bn["after 1 epoch"] = (accuracy(net, False), accuracy(net, True))
fit(net, "bn-later", n_epochs=later_epochs)
results_bn[f"after {1 + later_epochs} epochs"] = (accuracy(net, False), accuracy(net, True))
for when, (running, batch) in results_bn.items():
    print(f"{when:16s} running statistics {100 * running:5.1f}%, batch statistics {100 * batch:5.1f}%, "
          f"difference {100 * (batch - running):+5.1f} points")
(r1, b1), (r2, b2) = results_bn.values()
cfg.expect(b1 - r1 > abs(b2 - r2), "the gap between batch and running statistics should shrink with training")

# %% [markdown]
# After one epoch the running statistics are worse, often far worse: each is an exponential moving average over the
# last few dozen batches (momentum 0.1), and in the first epoch the weights change so fast that the averaged means
# and variances describe layers that no longer exist. The test batch's own statistics always describe the current
# network. Later the weights change slowly, the running averages catch up, and the two evaluations agree. Batch
# statistics are not a fix, though: a prediction would then depend on the other images in its batch, and a single
# image could not be classified at all.

# %% [markdown]
# ## Exercise 5
#
# In full mode, train the small MBConv network without squeeze-excitation and compare the curves on CIFAR-10. What
# does SE buy?

# %%
se_runs = {}
for label, se in (("with SE", True), ("without SE", False)):
    torch.manual_seed(0)
    net = small_net(se=se)
    se_runs[label] = fit(net, f"se{int(se)}")
    print(f"{label:10s} {profile.count_params(net):8,d} parameters "
          f"{profile.count_flops(net, (1, channels, side, side)) / 1e6:6.2f} MFLOPs, "
          f"test accuracy {100 * se_runs[label].last['val_acc']:.1f}%")
fig = plot.plot_history(se_runs, title=f"Small MBConv net with and without squeeze-excitation, {epochs} epochs "
                                       f"({'CIFAR-10' if cfg.full else 'digits, 16×16'})")
plt.show()
cfg.expect(all(h.last["val_acc"] > 0.5 for h in se_runs.values()), "both networks should learn")

# %% [markdown]
# SE adds few FLOPs but a noticeable share of this small network's parameters (printed), and lets each block re-weight
# its channels per image, from a summary of the whole image that the 3×3 and 5×5 depthwise filters cannot see. On
# the digits the two curves cannot be told apart — the task is too easy. The full-mode curves on CIFAR-10 show what
# it buys at this scale; Hu et al. (2017) found consistent gains on ImageNet for a few percent more parameters, and
# EfficientNet's search kept SE in every block. Compare the gain with the seed-to-seed spread (chapter 12's
# exercise 4) before calling it real.

# %% [markdown]
# ## Exercise 6
#
# Add a model of your own to the registry (`@register_model(chapter=14, twin="torchvision")` on a builder for
# `mobilenet_v3_large`, say) and re-run the closing table. Where does it land on the chart?

# %%
if "mobilenet_v3_large" not in models.list_models():  # re-running this cell must not register it twice

    @register_model(chapter=14, twin="torchvision")
    def mobilenet_v3_large(weights=None, progress: bool = True, **kwargs) -> nn.Module:
        """torchvision's MobileNetV3-Large (2019) itself: a registry entry needs only a builder with its name."""
        return tvm.mobilenet_v3_large(weights=weights, progress=progress, **kwargs)


catalog.YEARS.setdefault("mobilenet", 2019)  # its paper's year, for the chart's legend
published = [name for name in catalog.imagenet_models() if catalog.published_top1(name)[0] is not None]
rows = catalog.catalog(published)  # the models the chart shows: those with a published accuracy
frontier = sorted((r for r in rows if not any(o.flops < r.flops and o.top1 > r.top1 for o in rows)),
                  key=lambda r: r.flops)
fig = catalog.chart(rows, title="The closing chart with MobileNetV3-Large added")
plt.show()

# %%
# NBVAL_CHECK_OUTPUT
mobile = next(r for r in rows if r.name == "mobilenet_v3_large")
print(catalog.format_catalog([mobile]))
cheaper = [r.name for r in rows if r.flops < mobile.flops]
print(f"models with fewer FLOPs: {cheaper or 'none'}; on the Pareto frontier: {mobile in frontier}")
print("frontier, cheapest first: " + ", ".join(r.name for r in frontier))
assert mobile in frontier and frontier[0] is mobile

# %% [markdown]
# MobileNetV3-Large lands at the far left of the chart, below the EfficientNets: the cheapest model of all, with
# about half of B0's FLOPs, and the lowest accuracy of the frontier. Nothing is both cheaper and more accurate, so it
# becomes the frontier's first point, and the frontier now begins with it instead of B0. It comes from the same
# ideas (a searched network of MBConv blocks with SE, h-swish activations), tuned for phones' latency rather than
# FLOPs. Registering it took one decorated builder — the catalog and the chart read the registry.

# %% [markdown]
# ## Exercise 7
#
# The chart uses each model's first weights. Switch the table to `catalog.catalog(weights="DEFAULT")`: which models
# move, and does the ranking of *architectures* change?

# %%
# NBVAL_CHECK_OUTPUT
first = {r.name: r for r in catalog.catalog(published)}
best = {r.name: r for r in catalog.catalog(published, weights="DEFAULT")}
moved = sorted((n for n in first if best[n].top1 != first[n].top1), key=lambda n: first[n].top1 - best[n].top1)
print(f"{len(moved)} of {len(first)} models have newer default weights:")
for n in moved:
    print(f"  {n:18s} {first[n].weights} {first[n].top1:6.2f}% → {best[n].weights} {best[n].top1:6.2f}% "
          f"({best[n].top1 - first[n].top1:+.2f})")
rank = lambda table: sorted(table, key=lambda n: -table[n].top1)  # noqa: E731
flipped = [(a, b) for i, a in enumerate(rank(first)) for b in rank(first)[i + 1:]
           if best[a].top1 < best[b].top1]
print(f"pairs whose order changes: {len(flipped)} of {len(first) * (len(first) - 1) // 2}, e.g. "
      + "; ".join(f"{b} now above {a}" for a, b in flipped[:4]))
assert moved and flipped

# %% [markdown]
# The ResNet-50/101/152, ResNeXt-50 and Wide ResNet-50 move most, by 3 to 5 points: torchvision retrained them in 2021
# with a much longer training and modern augmentation and regularisation. EfficientNet-B1 and MobileNetV3 gain a point;
# VGG, AlexNet, GoogLeNet, Inception-v3, the DenseNets and the other EfficientNets keep their first weights. The ranking
# changes (the printed pairs): ResNets from 2015 with the 2021 recipe overtake EfficientNets from 2019 that beat them
# with the recipes of their time. A chart of "architectures" is therefore always a chart of architectures *and* training
# recipes; comparing them fairly needs the same recipe for all, which is why the chapter uses the first weights.
