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
# # Solutions · 12 DenseNet
#
# [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/cnncourse/cnncourse/blob/main/notebooks/solutions/12_densenet.ipynb)
#
# Worked solutions to the exercises of [chapter 12](../12_densenet.ipynb). Try each exercise before reading its
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
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint
from torch.utils.data import TensorDataset

import cnncourse
from cnncourse import data, models, profile, train
from cnncourse.models.densenet import DenseBlock, DenseLayer, densenet_cifar

warnings.filterwarnings("ignore", category=UserWarning)
cfg = cnncourse.setup(seed=0)

# %% [markdown]
# ## Exercise 1
#
# How many channels does the last layer of DenseNet-201's third block read? Work it out with $k_0 + k(\ell-1)$ (what
# is $k_0$ there?) and check it against the model.

# %%
# NBVAL_CHECK_OUTPUT
with torch.device("meta"):
    d201 = models.densenet201()
k, layers, theta = 32, (6, 12, 48, 32), 0.5  # DenseNet-201: growth rate, layers per block, compression
channels = 64  # the stem's output
for i, n in enumerate(layers[:2], start=1):
    out = channels + n * k  # what dense block i outputs
    print(f"block {i}: starts with {channels} channels, ends with {channels} + {n}·{k} = {out}; "
          f"transition{i} keeps ⌊{theta}·{out}⌋ = {int(theta * out)}")
    channels = int(theta * out)
k0, last = channels, layers[2]
by_hand = k0 + k * (last - 1)
in_model = d201.features.denseblock3[f"denselayer{last}"].conv1.in_channels
print(f"block 3: k0 = {k0}; its layer {last} reads {k0} + {k}·({last} - 1) = {by_hand} channels; the model: {in_model}")
assert by_hand == in_model == 1760

# %% [markdown]
# $k_0$ of a block is what the transition before it hands over, not the stem's 64: DenseNet-201's first block grows
# 64 channels by 6·32 to 256, the transition halves them to 128, the second block grows them by 12·32 to 512, and the
# second transition leaves 256. The third block's 48th layer then reads 256 + 32·47 = 1760 channels — almost
# seven times what its first layer reads (1760 / 256 = 6.9), all for a 1×1 convolution that outputs 4k = 128.

# %% [markdown]
# ## Exercise 2
#
# Build `densenet_cifar(100, 12, bottleneck=True, compression=0.5, num_init_features=16)`. How much of DenseNet-BC's
# parameter count is due to its wider first convolution (2k channels instead of 16)?

# %%
# NBVAL_CHECK_OUTPUT
wide, narrow = densenet_cifar(100, 12), densenet_cifar(100, 12, bottleneck=True, compression=0.5, num_init_features=16)
print(f"first convolution: {wide.features.conv0.out_channels} vs {narrow.features.conv0.out_channels} channels")
parts = lambda net: [*net.features.named_children(), ("classifier", net.classifier)]  # noqa: E731
total = 0
for (part, a), (_, b) in zip(parts(wide), parts(narrow)):
    extra = profile.count_params(a) - profile.count_params(b)
    total += extra
    if extra:
        print(f"  {part:12s} {profile.count_params(a):8,d} vs {profile.count_params(b):8,d}: {extra:+6,d}")
difference = profile.count_params(wide) - profile.count_params(narrow)
print(f"DenseNet-BC-100-12: {profile.count_params(wide):,d} parameters, with 16 initial channels "
      f"{profile.count_params(narrow):,d}: {difference:,d} fewer, {difference / profile.count_params(wide):.1%}")
assert total == difference == 14_352  # every extra parameter is in a part listed above, and the answer holds
assert wide.features.conv0.weight.numel() - narrow.features.conv0.weight.numel() == 3 * 9 * 8

# %% [markdown]
# The wider stem accounts for 14,352 parameters, under 2% of DenseNet-BC-100's 769,162, and only 216 of them
# (3·3·3·8) are in the first convolution itself. The rest follow the 8 extra channels through the network: every
# layer of the first block reads them (a BatchNorm and a 1×1 convolution to 48 channels each), the transitions
# halve but keep them, and they reach the second and third blocks as 4 and 2 extra channels. Nearly all of the
# parameters sit in the dense layers, whose count the stem's width hardly changes.

# %% [markdown]
# ## Exercise 3
#
# Extend the memory experiment to L = 48 and 64 layers. Fit a parabola to the naive curve: which coefficient does the
# formula for the kept channels predict?

# %%
# NBVAL_CHECK_OUTPUT
depths = [4, 8, 16, 24, 32, 48, 64]
batch, side, k0, k = 4, 32, 24, 12
x = torch.randn(batch, k0, side, side)
kept = []
for L in depths:
    torch.manual_seed(0)
    kept.append(profile.saved_activation_bytes(DenseBlock(L, k0, growth_rate=k).train(), x))
channel_bytes = batch * side * side * 4  # one channel of the batch, float32
a, b, c = np.polyfit(depths, np.array(kept) / channel_bytes, 2)
print(f"measured: kept bytes / bytes of one channel = {a:.3f}·L² + {b:.3f}·L + {round(c, 3) + 0.0:.3f}")
print(f"tensors:  {k}·L² + (2·{k0} - {k} + 8·{k})·L = {k}·L² + {2 * k0 - k + 8 * k}·L")
bn = 4 * 4 / channel_bytes  # BatchNorm also keeps 4 float32 per channel: batch mean, inverse std, running mean, var
a_pred, b_pred = k + k / 2 * bn, 2 * k0 - k + 8 * k + (k0 - k / 2 + 4 * k) * bn
print(f"with BatchNorm's per-channel vectors: {a_pred:.3f}·L² + {b_pred:.3f}·L")
assert abs(a - a_pred) < 1e-3 and abs(b - b_pred) < 1e-2 and abs(c) < 1e-3

# %%
fig, ax = plt.subplots(figsize=(6.5, 4))
ax.plot(depths, np.array(kept) / 1e6, "o", label="measured (naive)")
fine = np.linspace(0, depths[-1], 100)
ax.plot(fine, (a * fine**2 + b * fine + c) * channel_bytes / 1e6, "--", label="fitted parabola")
ax.set_xlabel("layers in the dense block (L)")
ax.set_ylabel("activation memory kept for backward (MB)")
ax.set_title(f"One dense block (k0={k0}, k={k}), batch of {batch} × {side}×{side}")
ax.grid(alpha=0.3)
ax.legend()
plt.show()

# %% [markdown]
# Layer ℓ keeps two tensors of $c_\ell = k_0 + k(\ell-1)$ channels (the concatenation and the BatchNorm output the
# in-place ReLU overwrites) and two of $4k$ channels (the 1×1 convolution's output and the second BatchNorm/ReLU
# output). Summed over the layers, $2\sum_\ell c_\ell = 2Lk_0 + kL(L-1)$, so the formula predicts the quadratic
# coefficient $k$ = 12 channels and a linear one of $2k_0 - k + 8k$ = 132, with no constant. The fit finds these plus a
# few thousandths, which are the four per-channel vectors each BatchNorm keeps (16 bytes per channel against 16 KiB for
# a channel of the batch). In bytes, each L² costs 12 channels of the batch: 12 · 4 · 32 · 32 · 4 bytes = 192 KiB here.
# (If the ReLU were not in place, its output would be a third $c_\ell$-channel tensor per layer and the quadratic
# coefficient $3k/2$.)

# %% [markdown]
# ## Exercise 4
#
# Train the tiny-mode pair for more epochs and with three seeds each. Does the ranking of the two networks at the end
# stay the same?

# %% [markdown]
# The chapter's tiny-mode setting, in both modes (the question is about it): the handwritten digits at their 8×8
# scan resolution, DenseNet-BC-22 ($k = 12$) against ResNet-20 at width 8, DenseNet's recipe (SGD with Nesterov
# momentum 0.9, weight decay 1e-4, batch 64, learning rate 0.1 divided by 10 after 50% and 75% of the epochs) — for
# 6 epochs instead of 4. The seed sets both the initial weights and the order of the batches.

# %%
train_set, test_set = data.digits(size=32, seed=0)  # what data.small_images gives in tiny mode
train_set, test_set = (TensorDataset(F.avg_pool2d(ds.tensors[0], 4), ds.tensors[1]) for ds in (train_set, test_set))
builders = {"DenseNet-BC-22-12": lambda: densenet_cifar(22, 12, in_channels=1),
            "ResNet-20 (width 8)": lambda: models.resnet_cifar(20, width=8, in_channels=1)}
epochs, seeds = 6, (0, 1, 2)
error = {name: [] for name in builders}
for seed in seeds:
    for name, build in builders.items():
        torch.manual_seed(seed)
        net = build()
        train_loader, test_loader = data.loaders(train_set, test_set, batch_size=64, seed=seed, device=cfg.device)
        n = len(train_loader)
        schedule = train.lr_schedule("step", epochs * n, milestones=[epochs // 2 * n, 3 * epochs // 4 * n])
        optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4)
        history = train.fit(net, train_loader, epochs, val_loader=test_loader, optimizer=optimizer, schedule=schedule,
                            device=cfg.device, verbose=False,
                            checkpoint=cfg.checkpoint(f"12_densenet-solutions-{name.split()[0]}-seed{seed}"))
        error[name].append(100 * (1 - history.last["val_acc"]))
print(f"{'network':20s} " + " ".join(f"{'seed ' + str(s):>7s}" for s in seeds) + f" {'mean':>6s}")
for name, errs in error.items():
    print(f"{name:20s} " + " ".join(f"{e:6.1f}%" for e in errs) + f" {np.mean(errs):5.1f}%")
wins = sum(d < r for d, r in zip(*error.values()))
spread = {name: max(errs) - min(errs) for name, errs in error.items()}
gap = np.mean(error["ResNet-20 (width 8)"]) - np.mean(error["DenseNet-BC-22-12"])
print(f"DenseNet-BC has the lower test error with {wins} of {len(seeds)} seeds; mean gap {gap:.1f} points, spread "
      f"over the seeds: " + ", ".join(f"{name} {s:.1f} points" for name, s in spread.items()))
cfg.expect(max(max(errs) for errs in error.values()) < 10, "every run should learn the digits")
cfg.expect(gap > 0 and wins >= 2, "DenseNet-BC should end ahead on average and with most seeds")

# %% [markdown]
# Yes: with 6 epochs DenseNet-BC-22 ends with the lower mean test error, as in the chapter's 4-epoch run, and in the
# stored run with every seed; the gap between the means is about as large as the spread of the ResNet's errors over
# the seeds (printed). On 450 test digits one point is between four and five images, so a single run would have been
# weak evidence; three seeds that agree are better, and the way to be sure of a ranking is more seeds and a larger
# test set — the reason the paper's claim rests on CIFAR-10's 10,000 test images.

# %% [markdown]
# ## Exercise 5
#
# `memory_efficient=True` recomputes only the part before the 3×3 convolution. Why is checkpointing the 3×3
# convolution as well not worth it? (Hint: how many channels do its input and output have?)

# %% [markdown]
# We measure it on DenseNet-BC-100 (batch 8, on the CPU so the numbers are the same everywhere): the activation
# memory kept with the naive layers, with `memory_efficient=True`, and with every whole layer checkpointed (the 3×3
# convolution, its BatchNorm and ReLU recomputed as well), and the FLOPs each variant recomputes in the backward
# pass.

# %%
# NBVAL_CHECK_OUTPUT
class CheckpointedLayer(nn.Module):
    """A whole dense layer recomputed in the backward pass (measuring only: its BatchNorms count batches twice)."""

    def __init__(self, layer: DenseLayer) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        return checkpoint(self.layer, features, use_reentrant=False)


torch.manual_seed(0)
naive = models.densenet_bc_100_12().train()
efficient = models.densenet_bc_100_12(memory_efficient=True).train()
whole = copy.deepcopy(naive)
for block in (whole.features.denseblock1, whole.features.denseblock2, whole.features.denseblock3):
    for name in list(block):
        block[name] = CheckpointedLayer(block[name])
x = torch.randn(8, 3, 32, 32)
mb = {name: profile.saved_activation_bytes(net, x) / 1e6
      for name, net in (("naive", naive), ("memory_efficient", efficient), ("whole layers", whole))}
flops = profile.count_flops(naive, (1, 3, 32, 32), by_module=True)
layer_flops = {part: sum(v for key, v in flops.items() if "denselayer" in key and key.endswith(part))
               for part in ("conv1", "conv2")}
recomputed = {"naive": 0, "memory_efficient": layer_flops["conv1"], "whole layers": sum(layer_flops.values())}
print(f"{'DenseNet-BC-100, batch 8':24s} {'kept (MB)':>9s} {'recomputed, share of a forward pass':>37s}")
for name in mb:
    print(f"{name:24s} {mb[name]:9.1f} {recomputed[name] / flops['Global']:37.0%}")
print(f"whole layers keep {mb['memory_efficient'] / mb['whole layers']:.1f}× less than memory_efficient")
print(f"3×3 convolution per layer: {naive.features.denseblock3.denselayer16.conv2.in_channels} channels in, "
      f"{naive.features.denseblock3.denselayer16.conv2.out_channels} out, in every layer of every block")
assert mb["naive"] > 2 * mb["memory_efficient"] > 2 * mb["whole layers"]

# %% [markdown]
# The 3×3 convolution reads $4k$ = 48 channels and writes $k$ = 12 in every layer, however deep the block: what it
# keeps grows *linearly* with depth, like the $k$-channel outputs that have to be kept anyway. `memory_efficient`
# removes the part that grows quadratically (the concatenations) for the price of one extra 1×1 convolution per
# layer. Checkpointing the rest still cuts memory by a constant factor (printed), but then the backward pass
# recomputes the 3×3 convolutions too — nearly all of a forward pass instead of about half — and it no longer
# changes how the memory grows with depth. When that constant matters, general activation checkpointing of whole
# blocks (`torch.utils.checkpoint`) does it for any network; the DenseNet-specific trick is the quadratic part.
