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
# # 04 · AlexNet
#
# [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/cnncourse/cnncourse/blob/main/notebooks/04_alexnet.ipynb)
#
# In 2012 AlexNet won the ImageNet challenge (1.2 million photos, 1000 classes) with a top-5 error of 15.3%,
# against 26.2% for the best method built on hand-designed features. Its layers are LeNet's ideas at a larger
# scale — convolutions, pooling, a fully-connected classifier — so what made the difference? This chapter builds
# the network twice (the paper's version and torchvision's), measures what each costs, tests two of its
# ingredients (ReLU and dropout) on small runs, and, in full mode, classifies a photo with ImageNet weights.

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
from cnncourse import data, models, plot, profile, results, train

warnings.filterwarnings("ignore", category=UserWarning)
torch.set_flush_denormal(True)  # tiny activations of a dying network otherwise slow the CPU down a lot
cfg = cnncourse.setup(seed=0)

# %% [markdown]
# ## What changed in 2012, and what survived
#
# | ingredient | what AlexNet did | still used? |
# |---|---|---|
# | **ReLU** `max(0, x)` | replaced tanh/sigmoid, which saturate: their gradient is almost 0 for large inputs | yes — the default activation (or a smooth cousin: GELU, SiLU) |
# | **dropout** | zeroed half of the units of the two 4096-wide layers at random in every training step | in classifier heads and transformers; convolutional backbones mostly rely on BN and augmentation |
# | **GPUs** | two GTX 580 cards with 3 GB each; the network was split in two halves ("towers"), one per GPU | GPUs, yes; the split came back as *grouped convolutions* (ResNeXt, MobileNet) |
# | **data augmentation** | random 224×224 crops of 256×256 images, horizontal flips, colour (PCA) noise | yes — crops and flips are in every ImageNet recipe |
# | **local response normalisation (LRN)** | divided each activation by the energy of neighbouring channels at the same pixel (chapter 02) | no — VGG found it did not help; batch normalisation (chapter 08) replaced it |
# | overlapping max pooling | 3×3 windows with stride 2 instead of 2×2 with stride 2 | sometimes (ResNet's stem) |
#
# The architecture: five convolutions (11×11 with stride 4, then 5×5, then three 3×3) with max pooling after the
# 1st, 2nd and 5th, and three fully-connected layers (4096, 4096, 1000).

# %% [markdown]
# ## Build it: the paper's network and torchvision's
#
# There are two AlexNets in circulation, and they differ in more than details:
#
# - **the 2012 paper**: 96, 256, 384, 384, 256 filters, LRN after the ReLUs of the first two convolutions. The
#   paper's network ran as two towers on two GPUs, so its 2nd, 4th and 5th convolutions only saw the half of the
#   previous layer's channels on their own GPU. Written as **one tower** (every convolution sees every channel,
#   the layout most re-implementations use) it has 62,378,344 parameters for 1000 classes —
#   `models.alexnet_paper()`; `two_towers=True` restores the split with grouped convolutions.
# - **torchvision's** `alexnet` follows Krizhevsky's 2014 "one weird trick" paper: 64, 192, 384, 256, 256 filters and
#   no LRN. Its ImageNet weights are the ones you can download, so `models.alexnet` is built to be
#   state-dict compatible with it (same layer names, same shapes).
#
# Both layouts use a 224×224 input with 2 pixels of padding in the first convolution, so that its output is 55×55
# (the paper's "224" only works out with that padding, or with a 227×227 input). We build them on PyTorch's
# `meta` device: shapes without numbers, so counting costs nothing.

# %%
# NBVAL_CHECK_OUTPUT
with torch.device("meta"):
    variants = {
        "paper (1 tower)": models.alexnet_paper(),
        "paper (2 towers)": models.alexnet_paper(two_towers=True),
        "torchvision": models.alexnet(),
    }
x_shape = (1, 3, 224, 224)
print(f"{'variant':18s} {'params':>12s} {'GFLOPs':>8s} {'G mult-adds':>12s}")
for name, model in variants.items():
    flops = profile.count_flops(model, x_shape)
    print(f"{name:18s} {profile.count_params(model):12,d} {flops / 1e9:8.3f} {flops / 2e9:12.3f}")
print(models.alexnet_paper().features[:4])

# %% [markdown]
# (FLOPs count a multiply-add as two operations; the seed's torchinfo summary of the one-tower paper network
# reports "1.14 G mult-adds", the last column.) Where do the parameters and the computation sit? Per layer, for the
# one-tower paper network and torchvision's:

# %%
# NBVAL_CHECK_OUTPUT
def per_layer(model: nn.Module) -> dict[str, tuple[int, int]]:
    """Parameters and FLOPs of every convolution and linear layer, by name."""
    flops = profile.count_flops(model, x_shape, by_module=True)
    return {
        name: (profile.count_params(m), flops[f"AlexNet.{name}"])
        for name, m in model.named_modules()
        if isinstance(m, (nn.Conv2d, nn.Linear))
    }


paper, tv = per_layer(variants["paper (1 tower)"]), per_layer(variants["torchvision"])
print(f"{'layer':14s} | {'paper params':>13s} {'MFLOPs':>8s} | {'tv params':>13s} {'MFLOPs':>8s}")
for i, ((name_p, (p_p, f_p)), (name_t, (p_t, f_t))) in enumerate(zip(paper.items(), tv.items())):
    label = f"conv{i + 1}" if i < 5 else f"fc{i - 4}"
    print(f"{label:14s} | {p_p:13,d} {f_p / 1e6:8.1f} | {p_t:13,d} {f_t / 1e6:8.1f}")
fc_share = sum(p for n, (p, _) in paper.items() if n.startswith("classifier")) / profile.count_params(
    variants["paper (1 tower)"]
)
conv_flop_share = sum(f for n, (_, f) in paper.items() if n.startswith("features")) / sum(f for _, f in paper.values())
print(f"paper network: FC layers hold {fc_share:.1%} of the parameters, convolutions do {conv_flop_share:.1%} of the FLOPs")

# %% [markdown]
# The split that every later chapter fights with is already here: the three fully-connected layers hold about 94%
# of the parameters, while the convolutions do about 95% of the computation. VGG (chapter 05) makes both bigger;
# NiN and GoogLeNet (chapters 06–07) remove most of the fully-connected parameters.

# %% [markdown]
# ## Verify it: the same network as torchvision's
#
# State-dict compatibility means torchvision's weights load into our model *strictly* (every key present, every
# shape equal) and then both compute the same function. We check it with torchvision's randomly initialised model —
# no download needed — on a random 224×224 batch, in eval mode (dropout off). `models.check_twin` does both steps
# and reports any missing or unexpected key; every later chapter checks its models with it.

# %%
# NBVAL_CHECK_OUTPUT
ours = models.alexnet()
print(models.check_twin(ours, tvm.alexnet(weights=None), torch.randn(2, 3, 224, 224)))

# %% [markdown]
# Both AlexNets shrink a 224-pixel image to 6×6 before the classifier; below **63×63** pixels one of the poolings
# has nothing left to slide over. The model works this minimum out from its layers and says so instead of failing
# with a shape error deep inside:

# %%
# NBVAL_CHECK_OUTPUT
print(f"smallest input: {ours.min_input_size}×{ours.min_input_size}")
try:
    ours(torch.randn(1, 3, 32, 32))
except ValueError as err:
    print(f"ValueError: {err}")

# %% [markdown]
# ## Train it: ReLU against tanh
#
# The paper's Figure 1: a small four-layer convolutional network on CIFAR-10 reached 25% training error **six
# times faster** with ReLU than with tanh. The reason is saturation. tanh flattens out for inputs beyond about ±2, where its derivative
# is nearly 0, so a unit driven there stops learning; ReLU's derivative is 1 for every positive input.
#
# Whether tanh saturates depends on how big its inputs are, so we reproduce the paper's setting: pixel values on
# the 0–255 scale with the mean subtracted (no division by a standard deviation), and weights drawn from
# N(0, 0.01²). The network is the same for both runs except for the activation, and both start from the same
# random weights. Ours has four weight layers too (three convolutions and a linear classifier). Tiny mode trains
# on scikit-learn's handwritten digits (32×32, grey) for 3 epochs, full mode on CIFAR-10 for 10 epochs in class —
# the paper's Figure 1 runs about 35, which `CNNCOURSE_SCHEDULE=paper` does. The optimiser is ours (SGD with
# momentum, one learning rate for both); the paper tuned the learning rate of each network separately.

# %%
train_set, test_set, _ = data.small_images(cfg)
channels = train_set[0][0].shape[0]
print(f"{len(train_set)} training and {len(test_set)} test images of shape {tuple(train_set[0][0].shape)}")


# %%
class PaperPixels(nn.Module):
    """Inputs in [0, 1] -> the paper's scale: 0–255 with the mean (127.5 here) subtracted."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 255.0 - 127.5


def small_cnn(activation: type[nn.Module], in_channels: int, width: int = 8) -> nn.Sequential:
    """Three conv + activation + pooling stages and a linear classifier, weights ~ N(0, 0.01²) as in the paper."""
    net = nn.Sequential(
        PaperPixels(),
        nn.Conv2d(in_channels, width, 5, padding=2), activation(), nn.MaxPool2d(2),
        nn.Conv2d(width, 2 * width, 3, padding=1), activation(), nn.MaxPool2d(2),
        nn.Conv2d(2 * width, 2 * width, 3, padding=1), activation(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(2 * width * 4 * 4, 10),
    )
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.01)
            nn.init.zeros_(m.bias)
    return net


EPOCHS = {"tiny": 3, "full": 10, "paper": 35}
epochs = cfg.pick(**EPOCHS)
runs = {}
for name, activation in {"ReLU": nn.ReLU, "tanh": nn.Tanh}.items():
    torch.manual_seed(0)
    net = small_cnn(activation, channels)
    train_loader, test_loader = data.loaders(train_set, test_set, batch_size=32, seed=0, device=cfg.device)
    runs[name] = train.fit(net, train_loader, epochs, val_loader=test_loader, lr=0.003, device=cfg.device,
                           checkpoint=cfg.checkpoint(f"04_alexnet-{name}"))


# %%
def smooth(values: list[float], window: int = 10) -> np.ndarray:
    """Running mean over ``window`` steps (the per-batch loss is noisy)."""
    v = np.asarray(values, dtype=float)
    return np.convolve(v, np.ones(window) / window, mode="valid")


fig, ax = plt.subplots(figsize=(7, 3.8))
for name, hist in runs.items():
    ax.plot(smooth([s["loss"] for s in hist.steps]), label=name)
ax.set_xlabel("optimizer step (batch of 32 images)")
ax.set_ylabel("training loss (cross-entropy), running mean of 10")
ax.set_title("Same network, same start: ReLU vs tanh")
ax.grid(alpha=0.3)
ax.legend()
plt.show()
for name, hist in runs.items():
    accs = ", ".join(f"{a:.0%}" for a in hist["train_acc"])
    print(f"{name:5s} training accuracy per epoch: {accs}")

# %% [markdown]
# With inputs in the hundreds, the first layer's pre-activations are large and tanh units start out saturated:
# their gradients are close to zero, and the tanh network barely moves from chance level (10%) in the epochs the
# ReLU network needs to get most images right. (With
# inputs scaled to about ±1 and a modern initialisation the gap shrinks a lot — exercise 2. The paper's comparison
# is about its own setting, and it was that setting that made a deep tanh network impractical.)

# %% [markdown]
# ## Train it: dropout against over-fitting
#
# AlexNet's two 4096-wide layers hold 54.5M parameters, far more than needed to memorise a training set. Dropout
# zeroes each unit with probability p = 0.5 in every training step (and scales the survivors by 2, so that nothing
# changes at test time, where dropout is off). No unit can rely on a particular other unit being there, which acts
# like training many thinned networks at once.
#
# To see it on a small budget we make over-fitting easy: a wide fully-connected classifier on a small training set
# (200 images in tiny mode, 2,000 in full mode), trained for many epochs (30 and 60), with and without dropout.

# %%
n_small = cfg.pick(tiny=200, full=2000)
small_train = Subset(train_set, torch.randperm(len(train_set), generator=torch.Generator().manual_seed(0))[:n_small].tolist())
small_test = Subset(test_set, list(range(min(len(test_set), 2000))))  # all 450 in tiny mode


def wide_classifier(p: float, in_features: int) -> nn.Sequential:
    """Two 512-wide hidden layers with dropout probability ``p`` before each (AlexNet's head, scaled down)."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Dropout(p), nn.Linear(in_features, 512), nn.ReLU(),
        nn.Dropout(p), nn.Linear(512, 512), nn.ReLU(),
        nn.Linear(512, 10),
    )


dropout_runs = {}
for p in (0.0, 0.5):
    torch.manual_seed(0)
    train_loader, test_loader = data.loaders(small_train, small_test, batch_size=50, seed=0, device=cfg.device)
    net = wide_classifier(p, channels * 32 * 32)
    dropout_runs[f"dropout p={p}"] = train.fit(
        net, train_loader, cfg.pick(tiny=30, full=60), val_loader=test_loader, lr=0.02, device=cfg.device,
        verbose=False, checkpoint=cfg.checkpoint(f"04_alexnet-dropout{p}"),
    )
fig = plot.plot_history(dropout_runs, title=f"A wide classifier on {n_small} training images, with and without dropout")
plt.show()
for name, hist in dropout_runs.items():
    row = hist.last
    print(f"{name}: train acc {row['train_acc']:.1%}, test acc {row['val_acc']:.1%}, "
          f"gap {row['train_acc'] - row['val_acc']:+.1%}, test loss {row['val_loss']:.3f}")

# %% [markdown]
# Without dropout the network fits its few training images almost perfectly: it memorises them, and the gap
# between training and test accuracy is large. With dropout the training accuracy (measured with dropout on) stays
# lower and the gap shrinks — that is what a regulariser does. It does not automatically buy test accuracy: on so
# few images and a short run the two test curves stay close, and the difference moves with the seed (exercise 3).
# AlexNet's paper reports that without dropout its network over-fitted ImageNet substantially.

# %% [markdown]
# ## Use it: a real photo through ImageNet weights
#
# torchvision's weights come as an enum; each member carries its download address, the preprocessing its model was
# trained with, and metadata (the 1000 class names, its accuracy). Preprocessing runs offline, so we apply it in
# both modes: resize the short side to 256, crop the central 224×224, scale to [0, 1] and normalise each colour
# channel with ImageNet's mean and standard deviation.

# %%
# NBVAL_CHECK_OUTPUT
weights = tvm.AlexNet_Weights.IMAGENET1K_V1
preprocess = weights.transforms()
photo = data.sample_image("china.jpg")
image = preprocess(torch.from_numpy(photo).permute(2, 0, 1))  # H×W×3 uint8 -> 3×224×224 float
print(f"photo {photo.shape} -> model input {tuple(image.shape)}")
print(f"{len(weights.meta['categories'])} classes, e.g. {weights.meta['categories'][:3]}")
print(f"reported ImageNet accuracy: top-1 {weights.meta['_metrics']['ImageNet-1K']['acc@1']}%, "
      f"top-5 {weights.meta['_metrics']['ImageNet-1K']['acc@5']}%; weight file {weights.meta['_file_size']:.0f} MB")

# %% [markdown]
# The prediction needs that weight file. Full mode downloads it once (into torch's hub cache, checked against
# the hash in its file name); **tiny mode never touches the network**, so it skips this step. Offline without the
# file, `models.alexnet(weights=...)` raises an error that names the file and the folder to copy it into.

# %%
if cfg.full:
    pretrained = models.alexnet(weights=weights).eval().to(cfg.device)
    with torch.no_grad():
        probs = pretrained(image[None].to(cfg.device)).softmax(dim=1)[0].cpu()
    fig = plot.plot_top_classes(photo, probs, weights.meta["categories"],
                                "AlexNet (torchvision ImageNet weights): top-5 classes")
    plt.show()
    fig = plot.plot_filters(pretrained.features[0].weight[:32], title="First-layer 11×11 filters, learned on ImageNet")
    plt.show()
else:
    print(f"tiny mode: prediction with pretrained ImageNet weights skipped (it needs a "
          f"{weights.meta['_file_size']:.0f} MB download); "
          "run with CNNCOURSE_MODE=full to see the top-5 classes and the learned first-layer filters")

# %% [markdown]
# In full mode the first-layer filters show what the paper's Figure 3 showed: oriented edges at several
# frequencies and colour blobs — the same detectors chapter 01 built by hand, now learned from data.

# %% [markdown]
# ## What full mode costs, and the results
#
# Every training run of this chapter at its full-mode size, estimated from the networks' FLOPs
# (`profile.estimate_minutes`; the README states its assumptions), plus the one-time downloads of CIFAR-10 and of
# the weight file above:

# %%
# NBVAL_CHECK_OUTPUT
with torch.device("meta"):
    relu_shape, head_shape = small_cnn(nn.ReLU, 3), wide_classifier(0.5, 3 * 32 * 32)
estimated = {}
for schedule, key in (("class", "full"), ("paper", "paper")):
    relu_tanh = 2 * profile.estimate_minutes(relu_shape, (3, 32, 32), images=50_000, epochs=EPOCHS[key],
                                             batch_size=32, eval_images=10_000)
    dropout = 2 * profile.estimate_minutes(head_shape, (3, 32, 32), images=2_000, epochs=60, batch_size=50,
                                           eval_images=2_000)
    estimated[schedule] = relu_tanh + dropout
    print(f"full mode, {schedule} schedule: ReLU/tanh {EPOCHS[key]} epochs each, about {estimated[schedule]:.1f} "
          f"GPU minutes in all")

# %%
_ = results.record(
    cfg, "04_alexnet",
    {"parameters, 2012 paper (one tower)": profile.count_params(variants["paper (1 tower)"]),
     "parameters, torchvision": profile.count_params(variants["torchvision"]),
     "final training accuracy, ReLU (%)": 100 * runs["ReLU"].last["train_acc"],
     "final training accuracy, tanh (%)": 100 * runs["tanh"].last["train_acc"],
     "train-test gap without dropout (points)": 100 * (dropout_runs["dropout p=0.0"].last["train_acc"]
                                                       - dropout_runs["dropout p=0.0"].last["val_acc"]),
     "train-test gap with dropout (points)": 100 * (dropout_runs["dropout p=0.5"].last["train_acc"]
                                                    - dropout_runs["dropout p=0.5"].last["val_acc"])},
    references={"parameters, torchvision": tvm.AlexNet_Weights.DEFAULT.meta["num_params"]},
    estimated_minutes=estimated,
)

# %% [markdown]
# ## Exercises
#
# Worked solutions: [solutions/04_alexnet.ipynb](solutions/04_alexnet.ipynb) [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/cnncourse/cnncourse/blob/main/notebooks/solutions/04_alexnet.ipynb)
#
# 1. Add up the parameters of `alexnet_paper(two_towers=True)` layer by layer by hand and explain the difference of
#    1,413,120 to the one-tower network.
# 2. Repeat the ReLU/tanh comparison with `PaperPixels` removed (inputs in [0, 1]) and PyTorch's default
#    initialisation. Is ReLU still faster? What does that say about the paper's 6× figure?
# 3. Run the dropout experiment with three different seeds. How large is the gap between training and test
#    accuracy with and without dropout, on average?
# 4. Replace `nn.ReLU` by `nn.LeakyReLU(0.1)` and by `nn.GELU` in `small_cnn`. Which learns fastest here?
# 5. In full mode, run `models.alexnet(weights=weights)` on `data.sample_image("flower.jpg")`. Which classes come
#    out, and how confident is the network?
