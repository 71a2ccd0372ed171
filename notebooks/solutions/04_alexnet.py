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
# # Solutions · 04 AlexNet
#
# [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/cnncourse/cnncourse/blob/main/notebooks/solutions/04_alexnet.ipynb)
#
# Worked solutions to the exercises of [chapter 04](../04_alexnet.ipynb). Try each exercise before reading its
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
import numpy as np
import torch
import torchvision.models as tvm
from torch import nn
from torch.utils.data import Subset

import cnncourse
from cnncourse import data, models, plot, profile, train

warnings.filterwarnings("ignore", category=UserWarning)
torch.set_flush_denormal(True)  # tiny activations of a dying network otherwise slow the CPU down a lot
cfg = cnncourse.setup(seed=0)

# %% [markdown]
# ## Exercise 1
#
# Add up the parameters of `alexnet_paper(two_towers=True)` layer by layer by hand and explain the difference of
# 1,413,120 to the one-tower network.
#
# A convolution with $C_\text{in}$ inputs, $C_\text{out}$ outputs, a $k\times k$ kernel and $g$ groups has
# $C_\text{out} \cdot (C_\text{in}/g) \cdot k^2$ weights and $C_\text{out}$ biases: each output channel only reads
# the $C_\text{in}/g$ input channels of its own group. The paper's two towers are $g = 2$ in conv2, conv4 and conv5.
# A linear layer has $n_\text{in} n_\text{out} + n_\text{out}$.

# %%
# NBVAL_CHECK_OUTPUT
def conv_params(c_in: int, c_out: int, k: int, groups: int = 1) -> int:
    return c_out * (c_in // groups) * k * k + c_out


layers = {  # name: (one tower, two towers), from the paper's layer sizes
    "conv1 3→96, 11×11": (conv_params(3, 96, 11), conv_params(3, 96, 11)),
    "conv2 96→256, 5×5": (conv_params(96, 256, 5), conv_params(96, 256, 5, groups=2)),
    "conv3 256→384, 3×3": (conv_params(256, 384, 3), conv_params(256, 384, 3)),  # reads both towers
    "conv4 384→384, 3×3": (conv_params(384, 384, 3), conv_params(384, 384, 3, groups=2)),
    "conv5 384→256, 3×3": (conv_params(384, 256, 3), conv_params(384, 256, 3, groups=2)),
    "fc6 9216→4096": (9216 * 4096 + 4096,) * 2,
    "fc7 4096→4096": (4096 * 4096 + 4096,) * 2,
    "fc8 4096→1000": (4096 * 1000 + 1000,) * 2,
}
print(f"{'layer':20s} {'one tower':>12s} {'two towers':>12s} {'difference':>11s}")
for name, (one, two) in layers.items():
    print(f"{name:20s} {one:12,d} {two:12,d} {one - two:11,d}")
one_total, two_total = (sum(v[i] for v in layers.values()) for i in (0, 1))
print(f"{'total':20s} {one_total:12,d} {two_total:12,d} {one_total - two_total:11,d}")
with torch.device("meta"):
    one_tower, two_towers = models.alexnet_paper(), models.alexnet_paper(two_towers=True)
print(f"by hand == profile.count_params: one tower {one_total == profile.count_params(one_tower)}, "
      f"two towers {two_total == profile.count_params(two_towers)}")
print(f"half of the weights of conv2, conv4 and conv5: (96·256·25 + 384·384·9 + 384·256·9) / 2 = "
      f"{(96 * 256 * 25 + 384 * 384 * 9 + 384 * 256 * 9) // 2:,d}")
assert one_total - two_total == 1_413_120 == profile.count_params(one_tower) - profile.count_params(two_towers)

# %% [markdown]
# The whole difference sits in conv2, conv4 and conv5, the layers that in the paper only read the half of the
# previous layer that lived on their own GPU: with two groups each output channel has half as many input channels,
# so the layer has half the weights (the biases stay). conv1 reads the 3-channel image, conv3 and the fully-connected
# layers communicate across the GPUs, so they are the same in both layouts. That is the paper's "60 million
# parameters": 60,965,224 counted here.

# %% [markdown]
# ## Exercise 2
#
# Repeat the ReLU/tanh comparison with `PaperPixels` removed (inputs in [0, 1]) and PyTorch's default
# initialisation. Is ReLU still faster? What does that say about the paper's 6× figure?
#
# The chapter's network and training (SGD with momentum, learning rate 0.003, batches of 32, the same seed), in both
# settings: the paper's (pixels on the 0–255 scale minus the mean, weights from N(0, 0.01²)) and the modern default
# (pixels in [0, 1], PyTorch's default initialisation). Tiny mode trains on the handwritten digits, full mode on
# CIFAR-10, for the chapter's class-length number of epochs.

# %%
train_set, test_set, _ = data.small_images(cfg)
channels = train_set[0][0].shape[0]
epochs = cfg.pick(tiny=3, full=10)


class PaperPixels(nn.Module):
    """Inputs in [0, 1] -> the paper's scale: 0–255 with the mean (127.5 here) subtracted."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 255.0 - 127.5


def small_cnn(activation, in_channels: int, width: int = 8, paper_setting: bool = True) -> nn.Sequential:
    """Chapter 04's four-layer network; ``paper_setting=False`` drops `PaperPixels` and the N(0, 0.01²) init."""
    net = nn.Sequential(
        *([PaperPixels()] if paper_setting else []),
        nn.Conv2d(in_channels, width, 5, padding=2), activation(), nn.MaxPool2d(2),
        nn.Conv2d(width, 2 * width, 3, padding=1), activation(), nn.MaxPool2d(2),
        nn.Conv2d(2 * width, 2 * width, 3, padding=1), activation(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(2 * width * 4 * 4, 10),
    )
    if paper_setting:
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.zeros_(m.bias)
    return net


def run(activation, paper_setting: bool, name: str) -> train.History:
    torch.manual_seed(0)
    net = small_cnn(activation, channels, paper_setting=paper_setting)
    train_loader, test_loader = data.loaders(train_set, test_set, batch_size=32, seed=0, device=cfg.device)
    return train.fit(net, train_loader, epochs, val_loader=test_loader, lr=0.003, device=cfg.device, verbose=False,
                     checkpoint=cfg.checkpoint(f"04_alexnet-solutions-{name}"))


runs = {(act, paper): run(module, paper, f"{act}-{'paper' if paper else 'default'}")
        for paper in (True, False) for act, module in {"ReLU": nn.ReLU, "tanh": nn.Tanh}.items()}
print(f"{'setting':36s} {'activation':>10s}  training accuracy per epoch")
for (act, paper), hist in runs.items():
    setting = "paper: 0-255 pixels, N(0, 0.01²)" if paper else "default: [0, 1] pixels, PyTorch init"
    print(f"{setting:36s} {act:>10s}  " + ", ".join(f"{a:.0%}" for a in hist["train_acc"]))
default_relu, default_tanh = runs[("ReLU", False)].last["train_acc"], runs[("tanh", False)].last["train_acc"]
print(f"default setting, final training accuracy: ReLU {default_relu:.1%}, tanh {default_tanh:.1%} -> "
      f"{'ReLU' if default_relu > default_tanh else 'tanh'} is ahead")
cfg.expect(default_tanh > 0.3, "with small inputs and the default init, tanh should learn (well above 10% chance)")
cfg.expect(runs[("tanh", True)].last["train_acc"] < default_tanh,
           "tanh should learn better in the default setting than in the paper's")


# %%
def smooth(values: list[float], window: int = 10) -> np.ndarray:
    """Running mean over ``window`` steps (the per-batch loss is noisy)."""
    return np.convolve(np.asarray(values, dtype=float), np.ones(window) / window, mode="valid")


fig, axes = plt.subplots(1, 2, figsize=(12, 3.8), sharey=True)
for ax, paper in zip(axes, (True, False)):
    for act in ("ReLU", "tanh"):
        ax.plot(smooth([s["loss"] for s in runs[(act, paper)].steps]), label=act)
    ax.set_title("paper's setting (0–255 pixels, N(0, 0.01²))" if paper else "default ([0, 1] pixels, PyTorch init)")
    ax.set_xlabel("optimizer step (batch of 32 images)")
    ax.grid(alpha=0.3)
    ax.legend()
axes[0].set_ylabel("training loss (cross-entropy), running mean of 10")
fig.suptitle("ReLU vs tanh: the same network in two settings")
fig.tight_layout()
plt.show()

# %% [markdown]
# In the default setting tanh is no longer stuck: its inputs are small, so its units start in the linear part of the
# curve, and it learns — in the stored tiny-mode run it is even ahead of ReLU (the printed accuracies), while ReLU,
# with PyTorch's rather small default weights, starts slowly. So the paper's 6× is not a property of ReLU against
# tanh in general. It measured one setting — large inputs and an initialisation that saturate tanh, and a learning
# rate tuned per network — in which tanh suffers badly. ReLU's real advantage shows in deep networks, where a slope
# of exactly 1 keeps gradients alive through many layers (chapter 02), not in a four-layer network with well-scaled
# inputs.

# %% [markdown]
# ## Exercise 3
#
# Run the dropout experiment with three different seeds. How large is the gap between training and test accuracy
# with and without dropout, on average?
#
# The chapter's experiment — a wide two-hidden-layer classifier on a small training set (200 images in tiny mode,
# 2,000 in full mode), 30 epochs in tiny mode and 60 in full mode — with seeds 0, 1 and 2 for the weights and the
# order of the batches (the training subset stays the chapter's).

# %%
n_small = cfg.pick(tiny=200, full=2000)
chosen = torch.randperm(len(train_set), generator=torch.Generator().manual_seed(0))[:n_small]  # the chapter's subset
small_train = Subset(train_set, chosen.tolist())
small_test = Subset(test_set, list(range(min(len(test_set), 2000))))


def wide_classifier(p: float, in_features: int) -> nn.Sequential:
    """Chapter 04's head: two 512-wide hidden layers with dropout probability ``p`` before each."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Dropout(p), nn.Linear(in_features, 512), nn.ReLU(),
        nn.Dropout(p), nn.Linear(512, 512), nn.ReLU(),
        nn.Linear(512, 10),
    )


gaps = {0.0: [], 0.5: []}
tests = {0.0: [], 0.5: []}
for seed in (0, 1, 2):
    for p in gaps:
        torch.manual_seed(seed)
        train_loader, test_loader = data.loaders(small_train, small_test, batch_size=50, seed=seed, device=cfg.device)
        hist = train.fit(wide_classifier(p, channels * 32 * 32), train_loader, cfg.pick(tiny=30, full=60),
                         val_loader=test_loader, lr=0.02, device=cfg.device, verbose=False,
                         checkpoint=cfg.checkpoint(f"04_alexnet-solutions-dropout{p}-seed{seed}"))
        gaps[p].append(hist.last["train_acc"] - hist.last["val_acc"])
        tests[p].append(hist.last["val_acc"])
print(f"{'':12s} {'gap per seed (points)':>24s} {'mean gap':>9s} {'mean test accuracy':>19s}")
for p in gaps:
    per_seed = ", ".join(f"{100 * g:5.1f}" for g in gaps[p])
    print(f"dropout {p:<4} {per_seed:>24s} {100 * np.mean(gaps[p]):9.1f} {np.mean(tests[p]):19.1%}")
cfg.expect(np.mean(gaps[0.5]) < np.mean(gaps[0.0]), "dropout should shrink the train-test gap on average")

# %% [markdown]
# Without dropout the network memorises its training images and the gap is large with every seed; with dropout the
# gap is several points smaller on average (the printed means), and it varies more from seed to seed. The mean test
# accuracies are close, so on this small problem dropout mostly stops the network from pretending: its training
# accuracy (measured with dropout on) stays honest, while what it gets right on new images moves by less than the
# spread between seeds. One seed is not enough to tell a regulariser's effect on test accuracy from noise — that is
# why the chapter calls its single run's test curves inconclusive.

# %% [markdown]
# ## Exercise 4
#
# Replace `nn.ReLU` by `nn.LeakyReLU(0.1)` and by `nn.GELU` in `small_cnn`. Which learns fastest here?
#
# In the chapter's (paper's) setting, where tanh was stuck, with the same seed, data order and learning rate; the
# ReLU and tanh runs are the ones from exercise 2.

# %%
runs[("LeakyReLU(0.1)", True)] = run(lambda: nn.LeakyReLU(0.1), True, "leaky-paper")
runs[("GELU", True)] = run(nn.GELU, True, "gelu-paper")
contenders = ["ReLU", "LeakyReLU(0.1)", "GELU", "tanh"]
print(f"{'activation':15s} training accuracy per epoch     final test accuracy")
for act in contenders:
    hist = runs[(act, True)]
    print(f"{act:15s} {', '.join(f'{a:4.0%}' for a in hist['train_acc']):30s} {hist.last['val_acc']:.1%}")
fastest = max(contenders, key=lambda a: runs[(a, True)].last["train_acc"])
print(f"highest final training accuracy: {fastest}")
cfg.expect(all(runs[(a, True)].last["train_acc"] > 2 * runs[("tanh", True)].last["train_acc"]
               for a in ("ReLU", "LeakyReLU(0.1)", "GELU")),
           "every ReLU-like activation should learn far faster than saturated tanh")

# %%
fig, ax = plt.subplots(figsize=(7, 3.8))
for act in contenders:
    ax.plot(smooth([s["loss"] for s in runs[(act, True)].steps]), label=act)
ax.set_xlabel("optimizer step (batch of 32 images)")
ax.set_ylabel("training loss (cross-entropy), running mean of 10")
ax.set_title("Four activations in the paper's setting (0–255 pixels, N(0, 0.01²))")
ax.grid(alpha=0.3)
ax.legend()
plt.show()

# %% [markdown]
# All three ReLU-like activations learn, far ahead of tanh; in the stored tiny-mode run LeakyReLU is clearly ahead
# of ReLU and GELU (the printed table), but with one seed the order of the three is not settled.
# What they share is the part that matters here: no saturation for large positive inputs. LeakyReLU also keeps a
# slope of 0.1 for negative inputs, so a unit that has been pushed negative by the huge inputs still receives a
# gradient and can recover — a plausible reason for its head start when, as here, the first layer's inputs are in
# the hundreds. GELU is a smooth ReLU; it became the default of transformers, where its smoothness helps more than
# in a small CNN.

# %% [markdown]
# ## Exercise 5
#
# In full mode, run `models.alexnet(weights=weights)` on `data.sample_image("flower.jpg")`. Which classes come out,
# and how confident is the network?
#
# Full mode loads torchvision's ImageNet weights (a 233 MB download, once). Tiny mode never touches the network, so
# it runs the same code on an AlexNet with random weights: the pipeline is identical — preprocessing from the weights'
# metadata, the forward pass, softmax, the five largest probabilities named with the weights' class list — and the
# contrast shows what "confident" means.

# %%
weights = tvm.AlexNet_Weights.IMAGENET1K_V1
photo = data.sample_image("flower.jpg")
image = weights.transforms()(torch.from_numpy(photo).permute(2, 0, 1))  # 3×224×224, normalised as in training
if cfg.full:
    net = models.alexnet(weights=weights)
else:
    torch.manual_seed(0)
    net = models.alexnet()  # random weights: tiny mode downloads nothing
    print("tiny mode: random weights instead of the ImageNet ones (a 233 MB download); "
          "run with CNNCOURSE_MODE=full for the real answer")
net = net.eval().to(cfg.device)
with torch.no_grad():
    probs = net(image[None].to(cfg.device)).softmax(dim=1)[0].cpu()
top = probs.topk(5)
for p, i in zip(top.values.tolist(), top.indices.tolist()):
    print(f"{weights.meta['categories'][i]:24s} {p:7.2%}")
entropy = -(probs * probs.clamp_min(1e-12).log()).sum().item()
print(f"entropy of the prediction: {entropy:.2f} nats (uniform over 1000 classes: {np.log(1000):.2f})")
if cfg.full:
    cfg.expect(top.values[0] > 0.1, "the ImageNet weights should be far more confident than 1 in 1000")
else:
    assert top.values[0] < 0.01 and entropy > 0.99 * np.log(1000)  # random weights: next to uniform

# %%
fig = plot.plot_top_classes(photo, probs, weights.meta["categories"],
                            f"AlexNet ({'ImageNet weights' if cfg.full else 'random weights, tiny mode'}): top-5 classes")
plt.show()

# %% [markdown]
# With random weights (the stored tiny-mode output) every class gets about 1 in 1000 and the entropy is at its
# maximum, $\ln 1000$: the network knows nothing, and its top five are arbitrary. With the ImageNet weights (full
# mode) the probability piles onto a few classes, and the entropy drops far below that maximum. Read the top five
# critically: ImageNet has no class "flower" in general, only a couple of species ("daisy", "yellow lady's slipper")
# and things that often appear with flowers ("pot", "vase", "bee"), so a photo of flowers gets spread over those
# neighbours, and a high probability says the picture resembles that class's training images, not that the answer is
# right.
