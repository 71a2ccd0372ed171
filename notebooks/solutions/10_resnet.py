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
# # Solutions · 10 ResNet
#
# [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/cnncourse/cnncourse/blob/main/notebooks/solutions/10_resnet.ipynb)
#
# Worked solutions to the exercises of [chapter 10](../10_resnet.ipynb). Try each exercise before reading its
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
import warnings

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

import cnncourse
from cnncourse import data, models, profile, train
from cnncourse.models.resnet import Bottleneck, ResNet, conv1x1

warnings.filterwarnings("ignore", category=UserWarning)
cfg = cnncourse.setup(seed=0)

# %% [markdown]
# Exercises 1–3 are about the chapter's tiny-mode experiment, so their solutions use its setting in both modes: the
# 1,347 handwritten training digits at 8×8 pixels, networks at width 8, batch 32, SGD with momentum 0.9, weight decay
# 1e-4, a 40-step warm-up and a cosine decay over 14 epochs. On a GPU (full mode) they simply run faster.

# %%
train_set, test_set = data.digits(size=32, seed=0)  # what data.small_images gives in tiny mode
train_set, test_set = (TensorDataset(F.avg_pool2d(ds.tensors[0], 4), ds.tensors[1]) for ds in (train_set, test_set))


def run(net: nn.Module, name: str, epochs: int, lr: float = 0.02) -> train.History:
    """Train ``net`` like the chapter's tiny experiment (its 14-epoch schedule, stopped after ``epochs``)."""
    train_loader, _ = data.loaders(train_set, test_set, batch_size=32, seed=0, device=cfg.device)
    schedule = train.lr_schedule("cosine", 14 * len(train_loader), warmup_steps=40)
    return train.fit(net, train_loader, epochs, lr=lr, weight_decay=1e-4, schedule=schedule, device=cfg.device,
                     verbose=False, checkpoint=cfg.checkpoint(f"10_resnet-solutions-{name}"))


def resnet(depth: int, **kwargs) -> ResNet:
    torch.manual_seed(0)
    return models.resnet_cifar(depth, num_classes=10, in_channels=1, width=8, **kwargs)


# %% [markdown]
# ## Exercise 1
#
# Train the tiny experiment's ResNet-56 for its first 4 epochs with the paper's learning rate 0.1 instead of 0.02
# (same warm-up and schedule). What happens to its training loss after the warm-up, and to its training error? Why
# might the paper have warmed ResNet-110 up at 0.01?

# %%
runs = {lr: run(resnet(56), f"lr{lr}", epochs=4, lr=lr) for lr in (0.02, 0.1)}
for lr, history in runs.items():
    losses = [row["loss"] for row in history.steps]
    print(f"lr {lr:4}: loss at the start {losses[0]:.2f}, largest after the warm-up {max(losses[40:]):.2f}; "
          f"training error per epoch {', '.join(f'{100 * (1 - a):.1f}%' for a in history['train_acc'])}")
later = {lr: sum(1 - a for a in h["train_acc"][1:]) / 3 for lr, h in runs.items()}  # epochs 2-4
cfg.expect(later[0.1] > later[0.02], "the larger learning rate should train ResNet-56 worse in its first epochs")

fig, ax = plt.subplots(figsize=(8, 3.5))
for lr, history in runs.items():
    ax.plot([row["step"] for row in history.steps], [row["loss"] for row in history.steps], label=f"lr {lr}",
            alpha=0.8)
ax.axvline(40, color="gray", linestyle=":", label="end of the warm-up")
ax.set_xlabel("optimizer step")
ax.set_ylabel("training loss (cross-entropy)")
ax.set_title("ResNet-56 on the 8×8 digits: the first 4 epochs at two learning rates")
ax.grid(alpha=0.3)
ax.legend()
plt.show()

# %% [markdown]
# At 0.1 the loss falls during the warm-up, then jumps back up once the full learning rate is reached (in the
# stored run far above where it started), and the training error of epochs 2–4 stays well above the 0.02 run's.
# At initialisation a deep residual network's output is the sum of many branches, so one large step changes it a
# lot; the network has to settle before it can learn. The paper saw the same with ResNet-110 on CIFAR-10: at 0.1 it
# was "slightly too large to start converging", so it trained at 0.01 until the training error fell below 80% (about 400
# steps) and then went back to 0.1. A linear warm-up, as used here, is the common modern form of that trick.

# %% [markdown]
# ## Exercise 2
#
# Build `models.resnet_cifar(20, shortcut="B")` and train it next to option A in the tiny experiment's setting. How
# many parameters does the projection add, and where? Does it change the training curve?

# %%
# NBVAL_CHECK_OUTPUT
nets = {option: resnet(20, shortcut=option) for option in ("A", "B")}
for option, net in nets.items():
    where = [f"layer{i + 1}.0" for i, stage in enumerate(net.stages()) if stage[0].downsample is not None]
    print(f"option {option}: {profile.count_params(net):,d} parameters, shortcuts with a module at {where}")
extra = profile.count_params(nets["B"]) - profile.count_params(nets["A"])
print(f"option B adds {extra:,d} = (8·16 + 2·16) + (16·32 + 2·32) parameters at width 8; at the paper's width 16: "
      f"{profile.count_params(models.resnet_cifar(20, 'B')) - profile.count_params(models.resnet_cifar(20, 'A')):,d}")
assert extra == (8 * 16 + 2 * 16) + (16 * 32 + 2 * 32)

# %%
shortcut_runs = {option: run(net, f"resnet20{option}", epochs=14) for option, net in nets.items()}
fig, ax = plt.subplots(figsize=(6, 3.5))
for option, history in shortcut_runs.items():
    ax.plot(history["epoch"], [100 * (1 - a) for a in history["train_acc"]], marker="o", markersize=3,
            label=f"ResNet-20, option {option}")
ax.set_xlabel("epoch")
ax.set_ylabel("training error (%)")
ax.set_title("Shortcut options A and B on the 8×8 digits")
ax.grid(alpha=0.3)
ax.legend()
plt.show()
final = {option: 100 * (1 - h.last["train_acc"]) for option, h in shortcut_runs.items()}
print(f"training error after the last epoch: option A {final['A']:.1f}%, option B {final['B']:.1f}%")
cfg.expect(max(final.values()) < 2.0, "both options should fit the training digits")

# %% [markdown]
# Option B replaces the two zero-padding shortcuts by 1×1 convolutions with stride 2, each followed by BatchNorm:
# at `layer2.0` (8 → 16 channels) and `layer3.0` (16 → 32) — 736 parameters at width 8, 2,752 at the paper's
# width, about 1% of ResNet-20. The curves are hard to tell apart: both fit the training digits. The paper's
# ImageNet ablation found B a little better than A (the zero-padded channels of A learn no residual) — a small
# effect that a 602-step run on digits cannot show. Degradation is cured by the identity shortcuts both options
# share.

# %% [markdown]
# ## Exercise 3
#
# Build ResNet-56 with `zero_init_residual=True`, so that every block starts as the identity. Which layers' weights
# get a gradient at initialisation (`profile.gradient_norms`)? Does the network still learn?

# %%
# NBVAL_CHECK_OUTPUT
zero_init = resnet(56, zero_init_residual=True)
x, y = train_set.tensors[0][:128], train_set.tensors[1][:128]
norms = profile.gradient_norms(zero_init, x, y)
in_blocks = {name: value for name, value in norms.items() if name.startswith("layer")}
print(f"{len(in_blocks)} convolutions inside the blocks, all with a zero gradient: "
      f"{all(value == 0 for value in in_blocks.values())}")
print(f"stem convolution and classifier have a gradient: {norms['conv1'] > 0 and norms['fc'] > 0}")
scales = profile.gradient_norms(zero_init, x, y, kinds=(nn.BatchNorm2d,))
last_norms = [name for name in scales if name.endswith("bn2")]
print(f"the {len(last_norms)} zero-initialised BatchNorm scales have a gradient: "
      f"{all(scales[name] > 0 for name in last_norms)}")
assert all(value == 0 for value in in_blocks.values()) and all(scales[name] > 0 for name in last_norms)

# %%
history = run(zero_init, "zero-init", epochs=4)
errors = [100 * (1 - a) for a in history["train_acc"]]
print(f"training error per epoch: {', '.join(f'{e:.1f}%' for e in errors)}")
cfg.expect(errors[-1] < 50.0, "the zero-initialised ResNet-56 should learn (chance is 90% error)")

# %% [markdown]
# With the last BatchNorm scale of every block at 0, the branch F(x) is exactly 0 and its convolutions cannot
# influence the loss: their gradients are exactly 0. What does get a gradient is the stem, the classifier, and the
# 27 zero scales themselves (through the ReLU, the output depends on γ·x̂). After the first step the scales move
# away from 0, the branches switch on, and from then on the convolutions learn as usual — the network learns
# (the epochs above). Starting every block as the identity makes a deep ResNet behave like a shallow network at
# first; Goyal et al. (2017) use it to train ResNet-50 with very large batches.

# %% [markdown]
# ## Exercise 4
#
# Compute by hand the parameters of ResNet-20's third stage (n = 3 blocks, 32 → 64 channels, option A) and check
# your answer with `profile.count_params(net.layer3)`.

# %%
# NBVAL_CHECK_OUTPUT
first_block = 3 * 3 * 32 * 64 + 3 * 3 * 64 * 64 + 2 * (2 * 64)  # two convolutions (no bias) + two BatchNorms
other_block = 2 * (3 * 3 * 64 * 64) + 2 * (2 * 64)
by_hand = first_block + 2 * other_block
net = models.resnet20()
print(f"by hand: {first_block:,d} + 2 × {other_block:,d} = {by_hand:,d}; "
      f"profile.count_params(net.layer3) = {profile.count_params(net.layer3):,d}")
print(f"that is {profile.count_params(net.layer3) / profile.count_params(net):.0%} of ResNet-20's parameters")
assert by_hand == profile.count_params(net.layer3) == 203_520

# %% [markdown]
# The first block's 3×3 convolutions map 32 → 64 and 64 → 64 channels (18,432 + 36,864 weights), the other two
# blocks 64 → 64 twice; each BatchNorm has a scale and a shift per channel; option A's shortcut has no parameters.
# The last stage holds three quarters of the network's parameters: its convolutions have four times as many
# weights as the middle stage's (twice the channels on both sides) — but work on a map a quarter the size, so every
# stage costs about the same multiply-adds.

# %% [markdown]
# ## Exercise 5
#
# Add option C — a projection on every block, not only where the shape changes — to ResNet-50 by subclassing
# `ResNet`. How many parameters does it gain?

# %%
# NBVAL_CHECK_OUTPUT
class ResNetOptionC(ResNet):
    """`ResNet` whose every block has a projection shortcut (1×1 convolution + norm), option C of the paper."""

    def _make_layer(self, block, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        stage = super()._make_layer(block, planes, blocks, stride)  # the first block already has its projection
        for later in stage[1:]:
            channels = planes * block.expansion
            later.downsample = nn.Sequential(conv1x1(channels, channels), self._norm_layer(channels))
        return stage


with torch.device("meta"):
    option_b, option_c = models.resnet50(), ResNetOptionC(Bottleneck, [3, 4, 6, 3])
gain = profile.count_params(option_c) - profile.count_params(option_b)
# the blocks without a projection in option B: 2, 3, 5 and 2 of them with 256, 512, 1024 and 2048 channels
formula = sum(n * (c * c + 2 * c) for n, c in ((2, 256), (3, 512), (5, 1024), (2, 2048)))
print(f"ResNet-50: option B {profile.count_params(option_b):,d}, option C {profile.count_params(option_c):,d} "
      f"parameters: +{gain:,d} ({gain / profile.count_params(option_b):.0%}), by the formula {formula:,d}")
gmacs = {k: profile.count_macs(m, (1, 3, 224, 224)) / 1e9 for k, m in (("B", option_b), ("C", option_c))}
print(f"multiply-adds per 224×224 image: B {gmacs['B']:.2f} G, C {gmacs['C']:.2f} G")
assert gain == formula == 14_571_520

# %% [markdown]
# Option C adds a C×C 1×1 convolution (plus BatchNorm) to each of the 12 blocks that had an identity shortcut:
# 14.6 M parameters, 57% more than ResNet-50 has, most of them in the last stage, where C = 2048. In the paper's
# ImageNet ablation (on ResNet-34) C was only marginally better than B, and the authors kept B: the identity
# shortcuts are what matter for degradation, and they are free; projections everywhere cost memory, time and
# parameters for almost nothing.
