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
# # 06 · Network in Network: 1×1 convolutions and global average pooling
#
# [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/cnncourse/cnncourse/blob/main/notebooks/06_nin.ipynb)
#
# A convolution computes, at every pixel, a *linear* function of a small patch followed by one non-linearity.
# Lin, Chen and Yan (2013) asked: why not a small neural network there instead? Their **mlpconv** layer slides a
# multilayer perceptron over the image — which turns out to be nothing but 1×1 convolutions. Their second idea,
# **global average pooling** (GAP), replaced the huge fully-connected classifier of AlexNet and VGG with nothing at
# all. Both ideas are in almost every network after 2014: GoogLeNet's reductions, ResNet's bottlenecks,
# MobileNet, EfficientNet.

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
from torch import nn

import cnncourse
from cnncourse import data, models, plot, profile, results, train
from cnncourse.models.nin import mlpconv

warnings.filterwarnings("ignore", category=UserWarning)
cfg = cnncourse.setup(seed=0)

# %% [markdown]
# ## A 1×1 convolution is a linear layer at every pixel
#
# A 1×1 convolution with C_in input and C_out output channels looks at one pixel at a time: it takes the C_in
# values of that pixel, multiplies them by a C_out×C_in matrix and adds a bias. That is exactly `nn.Linear(C_in,
# C_out)`, applied to every pixel with the same weights. We check it numerically: copy the convolution's weights
# into a linear layer, move the channels last so every pixel is a row, and compare.

# %%
# NBVAL_CHECK_OUTPUT
torch.manual_seed(0)
conv = nn.Conv2d(64, 32, kernel_size=1)
linear = nn.Linear(64, 32)
with torch.no_grad():
    linear.weight.copy_(conv.weight.view(32, 64))  # 32×64×1×1 -> 32×64
    linear.bias.copy_(conv.bias)
x = torch.randn(8, 64, 14, 14)
by_conv = conv(x)
by_linear = linear(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)  # N×H×W×C: one row per pixel
err = (by_conv - by_linear).abs().max().item()
print(f"conv weight {tuple(conv.weight.shape)}, linear weight {tuple(linear.weight.shape)}")
print(f"output {tuple(by_conv.shape)}; max abs difference < 1e-5: {err < 1e-5}")

# %% [markdown]
# ## The mlpconv block
#
# An mlpconv block is a k×k convolution followed by an MLP applied at every pixel. Written the way the paper
# describes it — the MLP made of `nn.Linear` layers that run on every pixel — it looks like this (teaching code):

# %%
class MLPConvByHand(nn.Module):
    """A k×k convolution + ReLU, then an MLP of two Linear + ReLU layers applied to every pixel's channel vector."""

    def __init__(self, in_channels: int, widths: tuple[int, int, int], kernel_size: int, padding: int):
        super().__init__()
        a, b, c = widths
        self.conv = nn.Conv2d(in_channels, a, kernel_size, padding=padding)
        self.mlp = nn.Sequential(nn.Linear(a, b), nn.ReLU(), nn.Linear(b, c), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.conv(x)).permute(0, 2, 3, 1)  # N×H×W×C
        return self.mlp(h).permute(0, 3, 1, 2)


# %% [markdown]
# The package's `mlpconv` (what `models.nin` is built from) writes the same MLP as two 1×1 convolutions. Given
# the same weights, both compute the same function:

# %%
# NBVAL_CHECK_OUTPUT
torch.manual_seed(0)
by_hand = MLPConvByHand(3, (32, 24, 16), kernel_size=5, padding=2)
block = mlpconv(3, (32, 24, 16), kernel_size=5, padding=2)
with torch.no_grad():
    block[0].load_state_dict(by_hand.conv.state_dict())
    block[2].weight.copy_(by_hand.mlp[0].weight[:, :, None, None])
    block[2].bias.copy_(by_hand.mlp[0].bias)
    block[4].weight.copy_(by_hand.mlp[2].weight[:, :, None, None])
    block[4].bias.copy_(by_hand.mlp[2].bias)
    x = torch.randn(4, 3, 32, 32)
    err = (by_hand(x) - block(x)).abs().max().item()
print(block)
print(f"same parameters: {profile.count_params(by_hand) == profile.count_params(block)}, "
      f"max abs difference < 1e-5: {err < 1e-5}")

# %% [markdown]
# ## 1×1 convolutions as channel reduction
#
# A 1×1 convolution can also change the number of channels cheaply, and that became its main job in later
# networks. A 3×3 convolution from 256 to 256 channels on a 28×28 map is expensive; squeezing the input to 64
# channels first with a 1×1 convolution makes the 3×3 convolution four times narrower on its input side. We
# measure parameters and multiply-adds with `cnncourse.profile`:

# %%
# NBVAL_CHECK_OUTPUT
direct = nn.Conv2d(256, 256, 3, padding=1)
reduced = nn.Sequential(nn.Conv2d(256, 64, 1), nn.ReLU(), nn.Conv2d(64, 256, 3, padding=1))
shape = (1, 256, 28, 28)
for name, net in {"3×3, 256 -> 256": direct, "1×1 256 -> 64, then 3×3 64 -> 256": reduced}.items():
    print(f"{name:34s} params {profile.count_params(net):9,d}  mult-adds {profile.count_macs(net, shape) / 1e6:7.1f} M")
saving = profile.count_macs(direct, shape) / profile.count_macs(reduced, shape)
print(f"the reduced version needs {saving:.2f}x fewer multiply-adds, output shape unchanged: "
      f"{tuple(direct(torch.zeros(shape)).shape) == tuple(reduced(torch.zeros(shape)).shape)}")

# %%
batch = (16, 256, 28, 28)
for name, net in {"direct 3×3": direct, "1×1 reduction + 3×3": reduced}.items():
    result = profile.benchmark(net, batch, device=cfg.device, steps=3, warmup=1)
    print(f"{name:20s} {result.ms_per_batch:7.1f} ms per batch of 16 on {cfg.device}")

# %% [markdown]
# The measured time follows the multiply-adds roughly (it depends on the machine, so it is not checked). The
# reduction loses information — 64 channels cannot carry everything 256 did — which is why networks use it where
# the layer after it can afford that: GoogLeNet's Inception module (chapter 07) and ResNet's bottleneck (chapter
# 10).

# %% [markdown]
# ## Global average pooling instead of a fully-connected head
#
# GoogLeNet's last feature map is 7×7 with 1024 channels. A fully-connected layer from it to 1024 units, in the
# style of AlexNet and VGG, needs 7·7·1024·1024 weights. Global average pooling averages each channel over the
# 7×7 positions instead, giving a 1024-vector with no weights at all:

# %%
# NBVAL_CHECK_OUTPUT
with torch.device("meta"):
    fc_head = nn.Sequential(nn.Flatten(), nn.Linear(7 * 7 * 1024, 1024, bias=False))
gap_head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
feature_map = torch.randn(2, 1024, 7, 7)
print(f"FC head:  7·7·1024·1024 = {profile.count_params(fc_head):,d} weights ({profile.count_params(fc_head) / 1e6:.2f} M)")
print(f"GAP head: {profile.count_params(gap_head)} weights, output {tuple(gap_head(feature_map).shape)}")
print(f"GAP equals the mean over positions: {torch.allclose(gap_head(feature_map), feature_map.mean(dim=(2, 3)))}")

# %% [markdown]
# 51,380,224 weights — 51.4 M (the seed writes 51.3M, cutting off instead of rounding). GAP also makes the network
# accept any input size, and it is a strong regulariser: there is nothing in the head to over-fit with.
# NiN goes one step further: its last mlpconv block outputs **one map per class**, and GAP turns each map
# directly into that class's score, so there is no linear layer anywhere.

# %% [markdown]
# ## NiN: build, train, look inside
#
# `models.nin` follows the paper's CIFAR-10 network: three mlpconv blocks (5×5 conv 192 → 160 → 96, 5×5 conv
# 192 → 192 → 192, 3×3 conv 192 → 192 → classes) with pooling and dropout between them, then GAP.

# %%
# NBVAL_CHECK_OUTPUT
full_size = models.nin(num_classes=10, in_channels=3)
print(f"NiN for CIFAR-10: {profile.count_params(full_size):,d} parameters, "
      f"{profile.count_flops(full_size, (1, 3, 32, 32)) / 1e6:.1f} MFLOPs per 32×32 image")
x = torch.zeros(1, 3, 32, 32)
for i, layer in enumerate(full_size.features):
    x = layer(x)
    print(f"features[{i}] {type(layer).__name__:10s} -> {tuple(x.shape)}")
print(f"GAP -> {tuple(full_size(torch.zeros(1, 3, 32, 32)).shape)}")

# %% [markdown]
# Deep stacks of ReLU layers without normalisation are delicate to train: `models.nin` uses He initialisation
# (with PyTorch's default the signal fades over the nine layers and nothing learns), and we train with Adam
# (learning rate 0.002), which copes with that better than plain SGD in a short run. Tiny mode trains a network an
# eighth as wide (without dropout, which only slows a short run down) on the grey handwritten digits for 4 epochs;
# full mode trains the paper's width, with its dropout, on CIFAR-10 with random crops and flips for 30 epochs. The
# paper trained with SGD and lowered the learning rate by hand whenever the accuracy stopped improving, a schedule
# it does not spell out, so the `paper` schedule runs the same 30 epochs.

# %%
train_set, test_set, class_names = data.small_images(cfg, augment=True)
channels = train_set[0][0].shape[0]

EPOCHS = {"tiny": 4, "full": 30}  # no paper schedule: the paper's is not spelled out
torch.manual_seed(0)
net = models.nin(10, channels, width=cfg.pick(tiny=0.125, full=1.0), dropout=cfg.pick(tiny=0.0, full=0.5))
train_loader, test_loader = data.loaders(train_set, test_set, batch_size=cfg.pick(tiny=16, full=128), seed=0,
                                         device=cfg.device)
optimizer = torch.optim.Adam(net.parameters(), lr=2e-3)
history = train.fit(net, train_loader, cfg.pick(**EPOCHS), val_loader=test_loader, optimizer=optimizer,
                    device=cfg.device, checkpoint=cfg.checkpoint("06_nin"))
fig = plot.plot_history(history, title="NiN: training and test curves")
plt.show()

# %% [markdown]
# ### Class-score maps
#
# Because every class has its own map before the pooling, we can look at *where* in the image the network sees
# evidence for each class. Each row below is one test image followed by its ten class maps, all on one colour
# scale per row; the predicted class's map has a red title.

# %%
net.eval()
images = torch.stack([test_set[i][0] for i in range(4)])
labels = [int(test_set[i][1]) for i in range(4)]
with torch.no_grad():
    maps = net.score_maps(images.to(cfg.device)).cpu()
scores = maps.mean(dim=(2, 3))  # exactly what global average pooling gives the classifier
fig, axes = plt.subplots(len(images), 11, figsize=(14, 1.45 * len(images)))
for row, (image, label, m, s) in enumerate(zip(images, labels, maps, scores)):
    axes[row, 0].imshow(image.permute(1, 2, 0).squeeze(), cmap="gray")
    axes[row, 0].set_title(f"true: {class_names[label]}", fontsize=8)
    for c in range(10):
        ax = axes[row, c + 1]
        ax.imshow(m[c], cmap="viridis", vmin=0, vmax=float(m.max()) or 1.0)
        ax.set_title(f"{class_names[c]} {s[c]:.1f}", fontsize=8, color="red" if c == int(s.argmax()) else "black")
for ax in axes.flat:
    ax.axis("off")
fig.suptitle(f"NiN class-score maps before global average pooling ({maps.shape[-1]}×{maps.shape[-1]} each; "
             f"title: class and its score = map mean)")
fig.tight_layout()
plt.show()

# %% [markdown]
# Each map shows which parts of the image push its class's score up (the last ReLU clips negative evidence to
# 0); the winning class is simply the map with the largest mean. When the network is wrong, two maps typically
# compete for the same strokes. After this short run the maps are still noisy; a longer run (full mode) makes the
# winning map stand out more. This built-in localisation is the idea behind *class activation maps*, a standard
# way of showing what a CNN looked at.

# %% [markdown]
# ## What full mode costs, and the results
#
# The full-mode run, estimated from the full-width network's FLOPs (`profile.estimate_minutes`; the README states
# its assumptions):

# %%
# NBVAL_CHECK_OUTPUT
with torch.device("meta"):
    paper_width = models.nin(10, 3)
minutes = profile.estimate_minutes(paper_width, (3, 32, 32), images=50_000, epochs=EPOCHS["full"], batch_size=128,
                                   eval_images=10_000)
estimated = {"class": minutes, "paper": minutes}
print(f"full mode, either schedule: {EPOCHS['full']} epochs, about {minutes:.1f} GPU minutes")

# %%
_ = results.record(
    cfg, "06_nin",
    {"parameters (CIFAR-10 network)": profile.count_params(paper_width),
     "final test accuracy (%)": 100 * history.last["val_acc"]},
    estimated_minutes=estimated,
)

# %% [markdown]
# ## Exercises
#
# Worked solutions: [solutions/06_nin.ipynb](solutions/06_nin.ipynb) [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/cnncourse/cnncourse/blob/main/notebooks/solutions/06_nin.ipynb)
#
# 1. How many parameters would NiN have with a VGG-style head — flatten the last 192×8×8 feature map, then
#    two 1024-unit FC layers and a 10-unit output — instead of its last mlpconv block and GAP?
# 2. Replace the GAP in a trained NiN by global *max* pooling without retraining. What happens to the accuracy,
#    and why?
# 3. Compute the saving of a 1×1 reduction in front of a 5×5 convolution from 480 to 48 channels on a 14×14 map,
#    reducing to 16 channels first (chapter 07 measures this exact case).
# 4. Feed NiN a 64×64 image. What shape do its score maps have, and does the classifier still work? Why?
