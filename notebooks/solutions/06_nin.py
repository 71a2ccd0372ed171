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
# # Solutions · 06 Network in Network
#
# [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/cnncourse/cnncourse/blob/main/notebooks/solutions/06_nin.ipynb)
#
# Worked solutions to the exercises of [chapter 06](../06_nin.ipynb). Try each exercise before reading its
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
import copy
import warnings

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

import cnncourse
from cnncourse import data, models, profile, train

warnings.filterwarnings("ignore", category=UserWarning)
cfg = cnncourse.setup(seed=0)

# %% [markdown]
# ## Exercise 1
#
# How many parameters would NiN have with a VGG-style head — flatten the last 192×8×8 feature map, then two
# 1024-unit FC layers and a 10-unit output — instead of its last mlpconv block and GAP?
#
# We keep NiN's first two mlpconv blocks with their poolings and dropouts (which leave 192×8×8 for a 32×32 image)
# and put the fully-connected head on top:

# %%
# NBVAL_CHECK_OUTPUT
nin = models.nin(num_classes=10, in_channels=3)
body = nin.features[:6]  # mlpconv, max pool, dropout, mlpconv, avg pool, dropout
head = nn.Sequential(
    nn.Flatten(),
    nn.Linear(192 * 8 * 8, 1024), nn.ReLU(inplace=True), nn.Dropout(0.5),
    nn.Linear(1024, 1024), nn.ReLU(inplace=True), nn.Dropout(0.5),
    nn.Linear(1024, 10),
)
vgg_style = nn.Sequential(body, head).eval()
print(f"feature map under the head: {tuple(body(torch.zeros(1, 3, 32, 32)).shape[1:])}; "
      f"output {tuple(vgg_style(torch.zeros(1, 3, 32, 32)).shape)}")
print(f"first two blocks:            {profile.count_params(body):12,d}")
print(f"NiN's last mlpconv + GAP:    {profile.count_params(nin.features[6:]):12,d}")
print(f"VGG-style head:              {profile.count_params(head):12,d}  (its first layer alone "
      f"{profile.count_params(head[1]):,d})")
print(f"NiN: {profile.count_params(nin):,d}; with the VGG-style head: {profile.count_params(vgg_style):,d} = "
      f"{profile.count_params(vgg_style) / profile.count_params(nin):.1f}x as many")
assert profile.count_params(vgg_style) == 14_239_818

# %% [markdown]
# 14,239,818 parameters, 14.7 times NiN's 966,986. The first fully-connected layer alone, 12,288 × 1,024 weights,
# holds 88% of them — the same story as VGG-16's first FC layer (chapter 05). NiN's last block spends 370,954
# parameters on *convolutions* that keep the spatial layout, and GAP then needs none.

# %% [markdown]
# ## Exercise 2
#
# Replace the GAP in a trained NiN by global *max* pooling without retraining. What happens to the accuracy, and
# why?
#
# First a trained NiN: the chapter's run (tiny mode: an eighth of the width, the handwritten digits, 4 epochs; full
# mode: the paper's width with dropout, CIFAR-10 with crops and flips, 30 epochs; Adam with learning rate 0.002).
# Then the same weights with `nn.AdaptiveMaxPool2d(1)` in place of `nn.AdaptiveAvgPool2d(1)`.

# %%
train_set, test_set, class_names = data.small_images(cfg, augment=True)
channels = train_set[0][0].shape[0]
torch.manual_seed(0)
net = models.nin(10, channels, width=cfg.pick(tiny=0.125, full=1.0), dropout=cfg.pick(tiny=0.0, full=0.5))
train_loader, test_loader = data.loaders(train_set, test_set, batch_size=cfg.pick(tiny=16, full=128), seed=0,
                                         device=cfg.device)
history = train.fit(net, train_loader, cfg.pick(tiny=4, full=30), val_loader=test_loader,
                    optimizer=torch.optim.Adam(net.parameters(), lr=2e-3), device=cfg.device, verbose=False,
                    checkpoint=cfg.checkpoint("06_nin-solutions"))
net.eval()
max_net = copy.deepcopy(net)
max_net.pool = nn.AdaptiveMaxPool2d(1)  # the same weights, global max pooling
logits_avg, labels = train.predict(net, test_loader, device=cfg.device)
logits_max, _ = train.predict(max_net, test_loader, device=cfg.device)
acc_avg = (logits_avg.argmax(1) == labels).float().mean().item()
acc_max = (logits_max.argmax(1) == labels).float().mean().item()
print(f"test accuracy: global average pooling {acc_avg:.1%}, global max pooling {acc_max:.1%}")
print(f"predictions that change: {(logits_avg.argmax(1) != logits_max.argmax(1)).float().mean():.1%}")
print(f"{'class':>12s} {'predicted (avg)':>16s} {'predicted (max)':>16s} {'mean map max / mean':>21s}")
with torch.no_grad():
    maps = torch.cat([net.score_maps(x.to(cfg.device)).cpu() for x, _ in test_loader])
peakiness = (maps.amax(dim=(2, 3)) / maps.mean(dim=(2, 3)).clamp_min(1e-6)).median(dim=0).values
for c, name in enumerate(class_names):
    print(f"{name:>12s} {int((logits_avg.argmax(1) == c).sum()):16d} {int((logits_max.argmax(1) == c).sum()):16d} "
          f"{peakiness[c]:21.1f}")
cfg.expect(acc_max < acc_avg, "swapping GAP for global max pooling without retraining should cost accuracy")

# %%
fig, ax = plt.subplots(figsize=(8, 3.4))
positions = torch.arange(len(class_names)).float()
for shift, (name, logits) in zip((-0.2, 0.2), {"global average pooling": logits_avg,
                                               "global max pooling": logits_max}.items()):
    counts = torch.bincount(logits.argmax(1), minlength=len(class_names))
    ax.bar(positions + shift, counts, width=0.4, label=name)
ax.bar(positions, torch.bincount(labels, minlength=len(class_names)), width=0.8, fill=False, edgecolor="black",
       label="true count")
ax.set_xticks(positions.tolist(), class_names)
ax.set_xlabel("class")
ax.set_ylabel("test images predicted as this class")
ax.set_title("The same trained NiN read out by average or by max pooling")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# The accuracy drops (the printed numbers), although the weights and every score map are unchanged. Training
# taught each class map to have the right *mean*: a class wins when its map is, on average over all positions,
# higher than the others. The maximum measures something else — the single strongest position — and the maps were
# never trained to make that comparable across classes. Some class maps are flat, others have sharp peaks (the
# printed ratio of maximum to mean differs from class to class), so under max pooling the peaky classes win far
# more often than they should: the predicted classes pile up on a few of them (the printed counts). A network
# meant to be read out by max pooling has to be trained with it.

# %% [markdown]
# ## Exercise 3
#
# Compute the saving of a 1×1 reduction in front of a 5×5 convolution from 480 to 48 channels on a 14×14 map,
# reducing to 16 channels first (chapter 07 measures this exact case).

# %%
# NBVAL_CHECK_OUTPUT
direct = nn.Conv2d(480, 48, 5, padding=2)
reduced = nn.Sequential(nn.Conv2d(480, 16, 1), nn.ReLU(), nn.Conv2d(16, 48, 5, padding=2))
shape = (1, 480, 14, 14)
by_hand = {"direct": 14 * 14 * 48 * 480 * 25, "reduced": 14 * 14 * (16 * 480 + 48 * 16 * 25)}
for name, net_ in {"direct": direct, "reduced": reduced}.items():
    macs = profile.count_macs(net_, shape)
    print(f"{name:8s} {profile.count_params(net_):9,d} parameters {macs / 1e6:7.2f} M multiply-adds "
          f"(by hand {by_hand[name] / 1e6:.2f} M: {macs == by_hand[name]})")
saving = profile.count_macs(direct, shape) / profile.count_macs(reduced, shape)
print(f"the reduction saves {saving:.1f}x the multiply-adds and "
      f"{profile.count_params(direct) / profile.count_params(reduced):.1f}x the parameters")
assert all(profile.count_macs(n, shape) == by_hand[k] for k, n in {"direct": direct, "reduced": reduced}.items())

# %% [markdown]
# The direct 5×5 convolution costs $14^2 \cdot 48 \cdot 480 \cdot 25 = 112.9$ M multiply-adds; with the reduction
# it is $14^2 \cdot (480 \cdot 16 + 16 \cdot 48 \cdot 25) = 5.3$ M, 21 times fewer. The 5×5 kernels now read 16
# channels instead of 480 — 30 times fewer — and the 1×1 layer that makes those 16 channels is cheap because it
# looks at one pixel at a time. This is the 5×5 branch of GoogLeNet's Inception module 4a, and it is what made
# GoogLeNet's width affordable.

# %% [markdown]
# ## Exercise 4
#
# Feed NiN a 64×64 image. What shape do its score maps have, and does the classifier still work? Why?

# %%
# NBVAL_CHECK_OUTPUT
paper_nin = models.nin(num_classes=10, in_channels=3).eval()
for side in (32, 64):
    x = torch.zeros(1, 3, side, side)
    with torch.no_grad():
        print(f"{side}×{side} image: score maps {tuple(paper_nin.score_maps(x).shape)}, "
              f"output {tuple(paper_nin(x).shape)}")

# %% [markdown]
# The shapes work: the two poolings halve the image twice, so a 64×64 image gives 10 score maps of 16×16 instead of
# 8×8, and global average pooling turns maps of any size into 10 scores — no layer has a size fixed to the input.
# Whether the *answers* are still right is a different question. We give the network trained in exercise 2 its
# test images at 64×64 in two ways: scaled up (every object twice as large) and placed in the top-left corner of
# an empty 64×64 canvas (same size, three quarters background):

# %%
images = torch.stack([test_set[i][0] for i in range(len(test_set))])
targets = torch.tensor([int(test_set[i][1]) for i in range(len(test_set))])
variants = {
    "32×32 (as trained)": images,
    "scaled up to 64×64": F.interpolate(images, size=64, mode="bilinear", align_corners=False),
    "in the corner of a 64×64 black canvas": F.pad(images, (0, 32, 0, 32)),
}
accuracy = {}
for name, x in variants.items():
    loader = torch.utils.data.DataLoader(TensorDataset(x, targets), batch_size=256)
    logits, _ = train.predict(net, loader, device=cfg.device)
    accuracy[name] = (logits.argmax(1) == targets).float().mean().item()
    print(f"{name:38s} input {tuple(x.shape[1:])}: test accuracy {accuracy[name]:.1%}")
cfg.expect(accuracy["scaled up to 64×64"] < accuracy["32×32 (as trained)"],
           "features learned at one scale should transfer imperfectly to objects twice as large")

# %% [markdown]
# The classifier runs on any size, but it only works as well as before when the image looks like the training
# images. Scaled up, every stroke or object is twice as large relative to the 3×3 and 5×5 filters, so the features
# the network learned appear in different forms, and the accuracy falls. On the canvas, the digit keeps its size but
# fills a quarter of the image: GAP averages the class maps over all 16×16 positions, and the 192 positions of empty
# background — which the network never saw in that amount — outvote the 64 that contain the object. GAP makes any
# size *computable*; making it *work* needs training (or fine-tuning) at that size, or objects at the scale the
# network was trained on, which is what ImageNet models' multi-scale training and test-time resizing are for.
