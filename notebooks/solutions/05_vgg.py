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
# # Solutions · 05 VGG
#
# [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/cnncourse/cnncourse/blob/main/notebooks/solutions/05_vgg.ipynb)
#
# Worked solutions to the exercises of [chapter 05](../05_vgg.ipynb). Try each exercise before reading its
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
from collections.abc import Sequence

import matplotlib.pyplot as plt
import torch
from torch import nn

import cnncourse
from cnncourse import data, models, plot, profile, train
from cnncourse.models.vgg import CONFIGS, VGG

warnings.filterwarnings("ignore", category=UserWarning)
cfg = cnncourse.setup(seed=0)

# %% [markdown]
# ## Exercise 1
#
# Write configuration C of the paper (like D, but the last convolution of blocks 3–5 is 1×1) as a list and build it
# with the package's `VGG` class. `make_layers` only knows 3×3 convolutions, so mark the 1×1 ones (e.g. as
# `(256, 1)`) and write a `make_layers` that understands them. How many parameters does it have?

# %%
CONFIG_C = [64, 64, "M", 128, 128, "M", 256, 256, (256, 1), "M", 512, 512, (512, 1), "M", 512, 512, (512, 1), "M"]


def make_layers_1x1(config: Sequence[int | str | tuple[int, int]], in_channels: int = 3) -> nn.Sequential:
    """`make_layers` plus ``(channels, kernel)`` entries: a kernel×kernel convolution (padding keeps the size)."""
    layers: list[nn.Module] = []
    channels = in_channels
    for item in config:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        out, kernel = item if isinstance(item, tuple) else (item, 3)
        layers += [nn.Conv2d(channels, out, kernel_size=kernel, padding=kernel // 2), nn.ReLU(inplace=True)]
        channels = out
    return nn.Sequential(*layers)


# %%
# NBVAL_CHECK_OUTPUT
with torch.device("meta"):
    vgg_c = VGG(make_layers_1x1(CONFIG_C), name="vgg_c")
    vgg_d = models.vgg16()
params_c, params_d = profile.count_params(vgg_c), profile.count_params(vgg_d)
saved = 256 * 256 * (9 - 1) + 2 * 512 * 512 * (9 - 1)  # each 1×1 conv keeps 1 of a 3×3 kernel's 9 weights
print(f"configuration C: {params_c:,d} parameters ({params_c / 1e6:.0f} M; the paper's table 2: 134 M)")
print(f"configuration D: {params_d:,d}; D - C = {params_d - params_c:,d} = 256²·8 + 2·512²·8: "
      f"{params_d - params_c == saved}")
print(f"GFLOPs at 224×224: C {profile.count_flops(vgg_c, (1, 3, 224, 224)) / 1e9:.2f}, "
      f"D {profile.count_flops(vgg_d, (1, 3, 224, 224)) / 1e9:.2f}; "
      f"output {tuple(vgg_c(torch.zeros(1, 3, 224, 224, device='meta')).shape)}")
with torch.device("meta"):
    same_as_d = make_layers_1x1(CONFIGS["D"])
assert params_c == 133_638_952 and params_d - params_c == saved
assert profile.count_params(same_as_d) == profile.count_params(vgg_d.features)  # plain numbers still mean 3×3

# %% [markdown]
# Configuration C has 133,638,952 parameters, the paper's "134 M". Replacing three 3×3 convolutions by 1×1 ones saves
# 8 of every 9 of their weights, 4.7 M, and about a quarter of the computation (the printed GFLOPs) — but the paper
# found C *less* accurate than D: a 1×1 convolution adds a non-linearity without looking at neighbouring pixels, and
# seeing more spatial context (3×3) mattered more. That is where NiN (chapter 06) and VGG disagree about what 1×1
# convolutions are for.

# %% [markdown]
# ## Exercise 2
#
# Use `profile.layer_table` to find the layer with the largest output in VGG-19 at 224×224. How much memory do its
# activations need for a batch of 32?

# %%
# NBVAL_CHECK_OUTPUT
with torch.device("meta"):
    vgg19 = models.vgg19()
rows = profile.layer_table(vgg19, (1, 3, 224, 224))
largest = max(r.values for r in rows)
tied = [r for r in rows if r.values == largest]
print("largest output:", ", ".join(f"{r.name} ({r.kind}{', in-place' if r.inplace else ''})" for r in tied),
      f"shape {'×'.join(map(str, tied[0].shape[1:]))} = {largest:,d} values")
batch_bytes = 32 * largest * 4  # float32
print(f"batch of 32 in float32: 32 × {largest:,d} × 4 bytes = {batch_bytes:,d} bytes = {batch_bytes / 1e6:.1f} MB "
      f"({batch_bytes / 2**20:.1f} MiB)")
vgg19.train()
kept = profile.saved_activation_bytes(vgg19, torch.zeros(32, 3, 224, 224, device="meta"))
print(f"everything autograd keeps for a training step of 32 images: {kept / 1e9:.2f} GB")
assert tied[0].name == "features.0" and tied[0].shape == (1, 64, 224, 224) and batch_bytes == 411_041_792

# %% [markdown]
# The largest outputs are those of the first block: each of its two convolutions (and their ReLUs, which run in
# place) produces 64×224×224 = 3,211,264 values per image, 411 MB for a batch of 32 in float32 — for *one* layer.
# Training keeps many such tensors for the backward pass (the last line: 2.5 GB per batch of 32), which is why
# VGG at batch 32 needs a large GPU, and why later networks shrink the image early (ResNet's stride-2 stem and
# pooling reach 56×56 before the first block).

# %% [markdown]
# ## Exercise 3
#
# Train the small VGG without BN with learning rates 0.01, 0.05 and 0.1. Which ones learn at all?
#
# The chapter's run without BN — VGG-A at an eighth of the width on the handwritten digits for 4 epochs in tiny
# mode, half the width on CIFAR-10 with crops and flips for 15 epochs in full mode, constant learning rate, same
# seed — at three learning rates (0.05 is the chapter's).

# %%
train_set, test_set, _ = data.small_images(cfg, augment=True)
channels = train_set[0][0].shape[0]
width, epochs = cfg.pick(tiny=0.125, full=0.5), cfg.pick(tiny=4, full=15)
histories = {}
for lr in (0.01, 0.05, 0.1):
    torch.manual_seed(0)
    net = models.vgg("A", batch_norm=False, num_classes=10, in_channels=channels, width=width, small_input=True,
                     dropout=0.0)
    train_loader, test_loader = data.loaders(train_set, test_set, batch_size=cfg.pick(tiny=32, full=128), seed=0,
                                             device=cfg.device)
    histories[f"lr {lr}"] = train.fit(net, train_loader, epochs, val_loader=test_loader, lr=lr, device=cfg.device,
                                      verbose=False, checkpoint=cfg.checkpoint(f"05_vgg-solutions-plain-lr{lr}"))
for name, hist in histories.items():
    print(f"{name:8s} training loss per epoch: {', '.join(f'{v:.2f}' for v in hist['train_loss'])}; "
          f"final test accuracy {hist.last['val_acc']:.1%}")
cfg.expect(histories["lr 0.01"].last["val_acc"] > 0.5, "the smallest learning rate should learn")
cfg.expect(histories["lr 0.1"].last["val_acc"] < histories["lr 0.01"].last["val_acc"] - 0.3,
           "the largest learning rate should do far worse than the smallest")

# %%
fig = plot.plot_history(histories, title=f"VGG-A without BN at {width:g}× width: three learning rates")
plt.show()

# %% [markdown]
# Only the smallest learning rate learns (in the stored tiny-mode run: 0.01 reaches a good accuracy, 0.05 and 0.1
# stay at chance, 10%). With 0.05 and 0.1 the first steps are too large for eleven unnormalised layers: the loss
# jumps up, many ReLUs are pushed into the region where they output 0 for every image, and a network of dead units
# receives no gradient to recover with. A plain deep network needs a learning rate matched to its depth and its
# initialisation — the fiddly tuning that batch normalisation (with it, the chapter's 0.05 works) largely removes.

# %% [markdown]
# ## Exercise 4
#
# Replace VGG-16's classifier by global average pooling and one linear layer (512 → 1000). How many parameters are
# left?

# %%
# NBVAL_CHECK_OUTPUT
with torch.device("meta"):
    vgg16 = models.vgg16()
    gap_vgg16 = models.vgg16()
    gap_vgg16.avgpool = nn.AdaptiveAvgPool2d(1)  # 512×7×7 -> 512×1×1
    gap_vgg16.classifier = nn.Linear(512, 1000)
before, after = profile.count_params(vgg16), profile.count_params(gap_vgg16)
conv = profile.count_params(vgg16.features)
print(f"VGG-16: {before:,d} parameters, of which {before - conv:,d} in the classifier")
print(f"with GAP + Linear(512, 1000): {after:,d} = {conv:,d} (convolutions) + {512 * 1000 + 1000:,d} "
      f"-> {after / before:.1%} of the original")
print(f"output for a 224×224 image: {tuple(gap_vgg16(torch.zeros(1, 3, 224, 224, device='meta')).shape)}; GFLOPs "
      f"{profile.count_flops(gap_vgg16, (1, 3, 224, 224)) / 1e9:.2f} "
      f"instead of {profile.count_flops(vgg16, (1, 3, 224, 224)) / 1e9:.2f}")
assert after == conv + 513_000 == 15_227_688

# %% [markdown]
# 15,227,688 parameters are left, 11% of VGG-16's 138 M: the 123.6 M of the three fully-connected layers become a
# single 0.5 M layer, and the FLOPs barely change (the printed GFLOPs), because the convolutions did almost all the
# work anyway. The convolutions' 14.7 M are untouched. This is the design that NiN introduced and GoogLeNet and
# ResNet adopted; it also lets the network accept any input size (chapter 06).

# %% [markdown]
# ## Exercise 5
#
# Compute the receptive field of VGG-16's last convolution, taking the poolings into account.
#
# Each layer adds $(F - 1)$ times the product of the strides before it (chapter 01): a 3×3 convolution adds 2
# "jumps", a 2×2 pooling with stride 2 adds 1 jump and then doubles the jump. We compute this along configuration D
# and measure it with `profile.receptive_field` on VGG-16's layers up to the last convolution's ReLU (at a sixteenth
# of the width: the receptive field does not depend on the number of channels, and the measurement gets cheap).

# %%
# NBVAL_CHECK_OUTPUT
r, jump = 1, 1
for item in CONFIGS["D"]:
    kernel, stride = (2, 2) if item == "M" else (3, 1)
    r, jump = r + (kernel - 1) * jump, jump * stride
    if item == "M":
        print(f"after pooling {jump.bit_length() - 1}: receptive field {r:3d}, jump {jump:2d} pixels")
last_conv = r - (2 - 1) * (jump // 2)  # undo the final pooling
print(f"last convolution (conv5_3): {last_conv}×{last_conv} pixels by the formula")
narrow = models.vgg("D", width=1 / 16)
measured = profile.receptive_field(narrow.features[:-1], (1, 3, 256, 256))  # up to conv5_3's ReLU
print(f"measured: {measured[0]}×{measured[1]}")
assert measured == (last_conv, last_conv) == (196, 196)

# %% [markdown]
# conv5_3 sees 196×196 pixels, most of a 224×224 image, and after the last pooling 212×212. The 13 stacked 3×3
# convolutions alone would see only 27×27; the poolings multiply each later layer's step, so the five blocks add 4,
# 8, 24, 48 and 96 pixels. As with LeNet's C5 (solution 01.5), the edges of this region contribute through far fewer
# paths than its centre, so the *effective* receptive field is smaller.
