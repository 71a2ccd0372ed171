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
# # Solutions · 13 BiT
#
# [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/cnncourse/cnncourse/blob/main/notebooks/solutions/13_bit.ipynb)
#
# Worked solutions to the exercises of [chapter 13](../13_bit.ipynb). Try each exercise before reading its
# solution. Every answer is computed by the code next to it and checked (an `assert`, `cfg.expect` for what training
# achieves, or a cell whose output nbval compares); the text after it explains the result.

# %%
# On Google Colab: install the course's helper package (Colab already has torch, so it is not reinstalled).
# Anywhere else this cell does nothing; locally, `pip install -r requirements.txt` has installed it.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "cnncourse @ git+https://github.com/cnncourse/cnncourse"], check=True)

# %%
import statistics
import warnings

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

import cnncourse
from cnncourse import data, models, pipeline, train
from cnncourse.models.resnetv2 import ResNetV2

warnings.filterwarnings("ignore", category=UserWarning)
cfg = cnncourse.setup(seed=0)

# %% [markdown]
# Exercises 1–3 are about the chapter's small transfer experiment, so their solutions rebuild it as it is there, in
# both modes: the 8×8 handwritten digits at random positions on a 16×16 canvas; upstream, a `ResNetV2` (16/32/64
# channels inside its three stages) trained on the digits 0–4 for 8 epochs; downstream, k examples of each digit 5–9,
# 40 steps of SGD (learning rate 0.1, warm-up over 8 steps, ÷10 at 16, 24 and 32) on all k·5 images per step, with a
# zero-initialised head. To keep this notebook short, the exercises use three seeds (5-shot draws) where the
# chapter uses five, and exercise 1 two.

# %%
PAD, CANVAS, STEPS, SEEDS = 4, 16, 40, range(3)
SHIFT = pipeline.Augment(crop_padding=PAD, crop_size=(CANVAS, CANVAS))


def small_net(norm: str, classes: int = 5, width: int = 16, seed: int = 0) -> ResNetV2:
    """The chapter's network: GroupNorm + WS ("GN+WS") or BatchNorm + plain convolutions ("BN")."""
    torch.manual_seed(seed)
    swap = dict(norm_layer=nn.BatchNorm2d, conv_layer=nn.Conv2d) if norm == "BN" else dict(num_groups=width // 2)
    return ResNetV2((1, 1, 1), 1, classes, widths=(width, 2 * width, 4 * width), stem_width=width, in_channels=1,
                    small_input=True, **swap)


def centred(images: torch.Tensor) -> torch.Tensor:
    return F.pad(images, (PAD,) * 4)


def shifted(images: torch.Tensor, seed: int) -> torch.Tensor:
    loader = pipeline.TensorLoader(centred(images), torch.zeros(len(images)), len(images), augment=SHIFT, seed=seed)
    return next(iter(loader))[0]


(train_x, train_y), (test_x, test_y) = (
    (F.avg_pool2d(ds.tensors[0], 4), ds.tensors[1]) for ds in data.digits(size=32, seed=0))
downstream_pool = TensorDataset(train_x[train_y >= 5], train_y[train_y >= 5] - 5)
down_test_loader = pipeline.TensorLoader(shifted(test_x[test_y >= 5], 123), test_y[test_y >= 5] - 5, 256,
                                         device=cfg.device)
schedule = train.lr_schedule("step", STEPS, warmup_steps=8, milestones=[16, 24, 32])


def pretrain(norm: str) -> dict[str, torch.Tensor]:
    """The upstream backbone (everything but the head) after 8 epochs on the shifted digits 0–4."""
    up = train_y < 5
    loader = pipeline.TensorLoader(centred(train_x[up]), train_y[up], 32, shuffle=True, augment=SHIFT,
                                   device=cfg.device, seed=0)
    net = small_net(norm)
    train.fit(net, loader, 8, lr=0.1, schedule=train.lr_schedule("cosine", 8 * len(loader), warmup_steps=20),
              device=cfg.device, verbose=False, checkpoint=cfg.checkpoint(f"13_bit-solutions-upstream-{norm}"))
    return {k: v for k, v in net.state_dict().items() if not k.startswith("fc.")}


def downstream(seed: int, backbone: dict | None, k: int = 5, norm: str = "GN+WS", frozen: bool = False) -> ResNetV2:
    """The network after 40 steps on one k-shot draw of the digits 5–9, from ``backbone`` or from scratch."""
    shots = data.k_shot(downstream_pool, k, seed=seed).indices
    x, y = centred(downstream_pool.tensors[0][shots]), downstream_pool.tensors[1][shots]
    loader = pipeline.TensorLoader(x, y, len(x), shuffle=True, augment=SHIFT, device=cfg.device, seed=seed)
    net = small_net(norm, seed=seed + 1)
    if backbone is not None:
        net.load_state_dict(backbone, strict=False)
    if frozen:  # a linear probe: only the head learns
        for name, p in net.named_parameters():
            p.requires_grad_(name.startswith("fc."))
    name = f"13_bit-solutions-{norm}-{k}shot-{'scratch' if backbone is None else 'frozen' if frozen else 'tuned'}-{seed}"
    train.fit(net, loader, STEPS, lr=0.1, schedule=schedule, device=cfg.device, verbose=False,
              checkpoint=cfg.checkpoint(name))
    return net


def accuracy(net: nn.Module) -> float:
    """Test accuracy on the shifted test digits 5–9 (eval mode)."""
    return train.evaluate(net, down_test_loader, device=cfg.device)["acc"]


def summary(values: list[float]) -> str:
    return f"median {statistics.median(values):.1%} (min {min(values):.1%}, max {max(values):.1%})"


backbone = pretrain("GN+WS")

# %% [markdown]
# ## Exercise 1
#
# Repeat the small transfer experiment with 1 and with 10 examples per class (`downstream(seed, transfer, k=...)`).
# How does the gap between transfer and training from scratch change with k?

# %%
gap = {}
for k in (1, 10):
    tuned = [accuracy(downstream(seed, backbone, k)) for seed in SEEDS[:2]]
    scratch = [accuracy(downstream(seed, None, k)) for seed in SEEDS[:2]]
    gap[k] = statistics.median(tuned) - statistics.median(scratch)
    print(f"{k:2d}-shot: transfer {summary(tuned)}   from scratch {summary(scratch)}   gap {100 * gap[k]:+.1f} points")
cfg.expect(gap[1] > 0.1 and gap[10] > 0.1, "transfer should win clearly with 1 and with 10 examples per class")

# %% [markdown]
# Transfer wins at both ends, by a margin of the same order as the chapter's 5-shot result. With one example per
# class the pre-trained network already recognises more than half of the test digits, from five training images in
# all: its features separate strokes wherever they are, so the head mostly has to attach names to them. From
# scratch, neither 5 nor 50 images teach that invariance in 40 steps, so the gap does not close between 1 and 10
# examples per class. It does close eventually: with enough downstream data a network trained from scratch learns
# the invariance itself — BiT's own comparisons show the largest gains from pre-training in the few-shot regime and
# smaller ones on full datasets.

# %% [markdown]
# ## Exercise 2
#
# Freeze the pre-trained backbone and train only the new head (a *linear probe*) on the 5-shot digits, with the
# same schedule. Is it better or worse than fine-tuning the whole network? Why might BiT fine-tune everything?

# %%
probe = [accuracy(downstream(seed, backbone, frozen=True)) for seed in SEEDS]
tuned = [accuracy(downstream(seed, backbone)) for seed in SEEDS]
print(f"linear probe (frozen backbone): {summary(probe)}")
print(f"fine-tuning everything:         {summary(tuned)}")
cfg.expect(statistics.median(tuned) > statistics.median(probe), "fine-tuning should beat the linear probe here")

# %% [markdown]
# The linear probe is worse. The upstream network learned to separate five digits, 0–4; its last features only
# need to distinguish those five, so they throw away much of what tells a 7 from a 9. Fine-tuning lets every layer
# adapt to the new classes while starting from the useful early features. BiT fine-tunes the whole network for the
# same reason; with the HyperRule's 500 steps for a small task that costs little more than training a head.

# %% [markdown]
# ## Exercise 3
#
# Build the upstream and downstream networks with BatchNorm instead of GroupNorm + WS (`small_net("BN", ...)`) and
# repeat the transfer experiment. What happens to the BatchNorm running statistics during fine-tuning on 25 images,
# and does transfer still win?

# %%
bn_backbone = pretrain("BN")
bn_tuned = [accuracy(downstream(seed, bn_backbone, norm="BN")) for seed in SEEDS]
bn_scratch_nets = [downstream(seed, None, norm="BN") for seed in SEEDS]
bn_scratch = [accuracy(net) for net in bn_scratch_nets]
print(f"BN transfer:     {summary(bn_tuned)}")
print(f"BN from scratch: {summary(bn_scratch)}")
print(f"GN+WS transfer:  {summary(tuned)} (exercise 2)")
kept = 0.9 ** STEPS  # each training step keeps (1 - momentum) = 0.9 of the running statistics
print(f"after {STEPS} steps, {kept:.1%} of the upstream running statistics are left in the BatchNorm layers")
with torch.no_grad():  # the scratch networks again, normalising with the statistics of the whole test set instead
    x, y = down_test_loader.images, down_test_loader.labels
    batch_stats = [float((net.train()(x).argmax(1) == y).float().mean()) for net in bn_scratch_nets]
print(f"BN from scratch, normalised with the test set's own batch statistics: {summary(batch_stats)}")
cfg.expect(statistics.median(bn_tuned) > statistics.median(bn_scratch), "transfer should still win with BatchNorm")
cfg.expect(statistics.median(batch_stats) > statistics.median(bn_scratch),
           "the scratch BatchNorm networks' running statistics should fit their final weights badly")

# %% [markdown]
# Transfer still wins with BatchNorm; compare its median with the GroupNorm + WS one. During fine-tuning every
# training step normalises with the statistics of the step's 25 images and moves the running statistics 10% of the
# way towards them, so after 40 steps almost none of the upstream statistics are left: evaluation uses an average
# over the last steps' batches. That average is only right if the weights stopped changing while it was collected.
# The BatchNorm networks trained from scratch show what happens when they did not: in eval mode they score near
# chance (20%), yet normalised with the test set's own statistics the same weights do much better — their running
# statistics describe earlier versions of the network. The fine-tuned networks change less and suffer less. This
# mismatch, and the micro-batch problem of the chapter's first experiment, are what GroupNorm removes: it keeps no
# state that has to be re-estimated.

# %% [markdown]
# ## Exercise 4
#
# BiT's stem pads with zeros and then max-pools without padding, where torchvision's ResNet max-pools with padding 1
# (which pads with −∞). Find an input for which the two give different outputs, and explain why it matters in a
# pre-activation network but not in torchvision's.

# %%
# NBVAL_CHECK_OUTPUT
bit = models.resnetv2_bit("R50x1", 10)


def bit_pool(z: torch.Tensor) -> torch.Tensor:
    return bit.maxpool(bit.pad(z))


def torchvision_pool(z: torch.Tensor) -> torch.Tensor:
    return F.max_pool2d(z, 3, stride=2, padding=1)


negative = -torch.ones(1, 1, 4, 4)
print(f"all -1:  BiT {bit_pool(negative)[0, 0].tolist()}, torchvision {torchvision_pool(negative)[0, 0].tolist()}")
gen = torch.Generator().manual_seed(0)
with torch.no_grad():
    stem = bit.conv1(torch.randn(1, 3, 64, 64, generator=gen))  # BiT's stem output: no norm, no ReLU yet
    after_relu = stem.relu()  # what torchvision's stem pools: conv → BN → ReLU
print(f"on BiT's stem output (negative values too): the two poolings differ: "
      f"{not torch.equal(bit_pool(stem), torchvision_pool(stem))}")
print(f"on non-negative values (after a ReLU): the two poolings agree: "
      f"{torch.equal(bit_pool(after_relu), torchvision_pool(after_relu))}")
assert not torch.equal(bit_pool(negative), torchvision_pool(negative))
assert torch.equal(bit_pool(after_relu), torchvision_pool(after_relu))

# %% [markdown]
# A border window contains padding. Zero padding takes part in the maximum, −∞ padding never does, so when every real
# value in a border window is negative BiT's pooling returns 0 and torchvision's the largest negative value. In
# torchvision's ResNet the stem is convolution → BatchNorm → ReLU → pooling: everything pooled is ≥ 0, and then a
# padded 0 can never exceed the real maximum — both paddings agree. A pre-activation network has no norm and ReLU
# before its first block, so the pooled values can be negative and the choice matters. The original BiT code pads
# with zeros before pooling and its weights were trained that way, which is why our `ResNetV2` and timm's both use
# `ConstantPad2d(1, 0)` followed by `MaxPool2d(3, 2)`.

# %% [markdown]
# ## Exercise 5
#
# Use `train.bit_hyperrule` for a dataset of 30,000 images of 64×64 pixels. How many epochs (passes over the data)
# is that, and which of its settings would change if the images were 128×128?

# %%
# NBVAL_CHECK_OUTPUT
for side in (64, 128):
    rule = train.bit_hyperrule(30_000, (side, side))
    print(f"{side}×{side}: {rule.steps:,d} steps of {rule.batch_size}, warm-up {rule.warmup_steps}, ÷10 at "
          f"{', '.join(f'{m:,d}' for m in rule.milestones)}, resize {rule.resize} → crop {rule.crop}, MixUp α "
          f"{rule.mixup_alpha}; {rule.steps * rule.batch_size / 30_000:.1f} passes over the data")
small, large = train.bit_hyperrule(30_000, 64), train.bit_hyperrule(30_000, 128)
assert (small.steps, small.mixup_alpha, small.crop, large.crop) == (10_000, 0.1, 128, 480)

# %% [markdown]
# 30,000 images is a medium task (20,000 to 500,000 examples): 10,000 steps of 512 images, about 171 epochs, with
# a 500-step warm-up, learning-rate drops at 30%, 60% and 90% of the steps, and MixUp with α = 0.1 (the rule adds
# MixUp from 20,000 examples on, where there is enough data for the extra regularisation to help rather than hurt).
# Only the resolution depends on the image size: 64×64 is smaller than 96×96 in area, so images are enlarged to 160
# and cropped to 128; at 128×128 they are larger, so the rule resizes to 512 and crops 480 — more than 14 times the
# pixels, and so roughly 14 times the compute per step.
