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
# # Solutions · 07 GoogLeNet / Inception v1
#
# [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/cnncourse/cnncourse/blob/main/notebooks/solutions/07_googlenet.ipynb)
#
# Worked solutions to the exercises of [chapter 07](../07_googlenet.ipynb). Try each exercise before reading its
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
import functools
import warnings

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
import torchvision.models as tvm
from torch import nn

import cnncourse
from cnncourse import data, models, plot, profile, train
from cnncourse.models.googlenet import IMAGENET_MEAN, IMAGENET_STD, INCEPTION_V1, Inception, aux_loss, transform_input

warnings.filterwarnings("ignore", category=UserWarning)
cfg = cnncourse.setup(seed=0)

# %% [markdown]
# ## Exercise 1
#
# Repeat the seed's calculation for the 3×3 branch of inception (4a) (input 14×14×480, reduce to 96, then 208
# filters of 3×3). How much does its reduction save? Check your numbers with `profile.count_macs`.

# %%
# NBVAL_CHECK_OUTPUT
shape = (1, 480, 14, 14)
by_hand = {
    "direct 3×3": (14 * 14 * 208) * (3 * 3 * 480),  # every output value: a 3×3 window over all 480 channels
    "1×1 to 96, then 3×3": (14 * 14 * 96) * (1 * 1 * 480) + (14 * 14 * 208) * (3 * 3 * 96),
}
layers = {
    "direct 3×3": nn.Conv2d(480, 208, 3, padding=1, bias=False),
    "1×1 to 96, then 3×3": nn.Sequential(nn.Conv2d(480, 96, 1, bias=False),
                                         nn.Conv2d(96, 208, 3, padding=1, bias=False)),
}
for name, hand in by_hand.items():
    counted = profile.count_macs(layers[name], shape)
    print(f"{name:20s} by hand {hand:12,d} ({hand / 1e6:6.1f} M)  count_macs {counted:12,d}  same: {hand == counted}")
    assert hand == counted
saving = by_hand["direct 3×3"] / by_hand["1×1 to 96, then 3×3"]
chapter = (14 * 14 * 48 * 25 * 480) / (14 * 14 * 16 * 480 + 14 * 14 * 48 * 25 * 16)  # the chapter's 5×5 example
print(f"saving: {saving:.2f}x fewer multiplications (the 5×5 example of the chapter: {chapter:.1f}x)")

# %% [markdown]
# 176.1 M multiplications directly, 44.3 M with the reduction: about 4× fewer, against 21× for the chapter's 5×5
# example. The saving is smaller because this reduction is gentle (480 → 96 channels, a factor of 5, where the 5×5
# branch squeezes 480 → 16, a factor of 30) and because a 3×3 kernel costs less than a 5×5 one in the first place.
# Roughly, the saving is the channel factor 480/96 = 5, eaten into by the cost of the 1×1 layer itself.

# %% [markdown]
# ## Exercise 2
#
# Build `NaiveInception` with the widths of all nine modules (ignoring the reductions) and stack them. How many
# channels and multiply-adds does the last module have?

# %%
# NBVAL_CHECK_OUTPUT
class NaiveInception(nn.Module):
    """The chapter's naive module: 1×1 | 3×3 | 5×5 convolutions and a 3×3 max pooling, concatenated."""

    def __init__(self, in_channels: int, c1: int, c3: int, c5: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, c1, 1)
        self.conv3 = nn.Conv2d(in_channels, c3, 3, padding=1)
        self.conv5 = nn.Conv2d(in_channels, c5, 5, padding=2)
        self.pool = nn.MaxPool2d(3, stride=1, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([F.relu(b) for b in (self.conv1(x), self.conv3(x), self.conv5(x), self.pool(x))], 1)


grid = {"3": 28, "4": 14, "5": 7}  # GoogLeNet's grid per stage: max poolings halve it between the stages
channels, naive_total = 192, 0
with torch.device("meta"):  # shapes only: the last modules would need gigabytes of weights otherwise
    print(f"{'module':7s} {'input':>14s} {'output channels':>16s} {'M multiply-adds':>16s} {'reduced module':>15s}")
    for name, (c1, _, c3, _, c5, _) in INCEPTION_V1.items():
        side = grid[name[0]]
        naive = NaiveInception(channels, c1, c3, c5)
        reduced = Inception(channels, *INCEPTION_V1[name], five_by_five=True)  # the paper's module, same input
        macs, macs_reduced = (profile.count_macs(m, (1, channels, side, side)) for m in (naive, reduced))
        print(f"{name:7s} {channels:5d}×{side:2d}×{side:<2d}    {channels + c1 + c3 + c5:16,d} {macs / 1e6:16,.1f} "
              f"{macs_reduced / 1e6:15,.1f}")
        channels += c1 + c3 + c5  # the pooling branch carries all input channels along
        naive_total += macs
last_macs = macs
print(f"last module: {channels:,d} output channels, {last_macs / 1e9:.2f} G multiply-adds "
      f"({last_macs / macs_reduced:.0f}x the reduced module's)")

# %%
# NBVAL_CHECK_OUTPUT
assert channels == 4944
with torch.device("meta"):  # the widths really stack: the last naive module's output has that many channels
    assert naive(torch.empty(1, channels - c1 - c3 - c5, side, side)).shape[1] == channels
with torch.device("meta"):
    paper_googlenet = models.googlenet(aux_logits=False, five_by_five=True)
googlenet_macs = profile.count_macs(paper_googlenet, (1, 3, 224, 224))
print(f"the naive inception (5b) alone: {last_macs / googlenet_macs:.2f}x the whole paper-style GoogLeNet "
      f"({googlenet_macs / 1e9:.2f} G multiply-adds); all nine naive modules: {naive_total / 1e9:.1f} G, "
      f"{naive_total / googlenet_macs:.1f}x")
assert 0.8 * googlenet_macs < last_macs < googlenet_macs

# %% [markdown]
# The channels grow by the three convolutions' widths at every module, because the pooling branch passes its input
# through: 192 → 4,944 channels after nine modules. The last module, on a 7×7 grid with 4,048 input channels, needs
# 1.40 G multiply-adds: 7× as much as the reduced inception (5b), and almost (0.88×) as much as the whole GoogLeNet
# with its 1×1 reductions. Summed over the nine modules, the naive stack costs 12.1 G, 7.6 times the real network.
# The reductions and pool projections are what keep the width (and so the cost)
# constant from module to module.

# %% [markdown]
# ## Exercise 3
#
# Train `googlenet_small` with `aux_loss(..., aux_weight=1.0)` and with only the head after inception (4d) (set
# `net.aux1 = None`). Do the curves change?
#
# First what `net.aux1 = None` does: in training mode the model then returns `None` for that head, and `aux_loss`
# skips it, so only the main loss and 0.3 times the (4d) head's loss remain:

# %%
# NBVAL_CHECK_OUTPUT
torch.manual_seed(0)
net = models.googlenet_small(10, 1, width=0.125)
net.aux1 = None
x, y = torch.randn(8, 1, 32, 32), torch.randint(0, 10, (8,))
torch.manual_seed(1)
out = net.train()(x)
print(f"outputs in training mode: logits {tuple(out.logits.shape)}, aux_logits2 {tuple(out.aux_logits2.shape)}, "
      f"aux_logits1 {out.aux_logits1}")
by_hand = F.cross_entropy(out.logits, y) + 0.3 * F.cross_entropy(out.aux_logits2, y)
print(f"aux_loss = main + 0.3 · aux2 only: {torch.allclose(aux_loss(out, y), by_hand)}")
assert out.aux_logits1 is None and torch.allclose(aux_loss(out, y), by_hand)

# %% [markdown]
# Now three runs with the chapter's settings (same data order, same initial weights, Adam at 0.002 with a cosine
# decay; tiny mode: an eighth of the width on the digits, for 2 epochs instead of the chapter's 3 to keep this
# notebook short; full mode: the full width on CIFAR-10 for the chapter's 30): both heads at the paper's weight
# 0.3, both heads at weight 1.0, and only the (4d) head at 0.3.

# %%
train_set, test_set, _ = data.small_images(cfg, augment=True)
in_channels = train_set[0][0].shape[0]
epochs, width = cfg.pick(tiny=2, full=30), cfg.pick(tiny=0.125, full=1.0)
settings = {"both heads, weight 0.3": (0.3, True), "both heads, weight 1.0": (1.0, True),
            "(4d) head only, weight 0.3": (0.3, False)}
runs = {}
for i, (name, (weight, keep_aux1)) in enumerate(settings.items()):
    torch.manual_seed(0)
    net = models.googlenet_small(10, in_channels, width=width)
    if not keep_aux1:
        net.aux1 = None
    train_loader, test_loader = data.loaders(train_set, test_set, batch_size=cfg.pick(tiny=32, full=128), seed=0,
                                             device=cfg.device)
    runs[name] = train.fit(net, train_loader, epochs, val_loader=test_loader,
                           optimizer=torch.optim.Adam(net.parameters(), lr=2e-3),
                           loss_fn=functools.partial(aux_loss, aux_weight=weight), schedule="cosine",
                           device=cfg.device, verbose=False, checkpoint=cfg.checkpoint(f"07_googlenet-solution3-{i}"))
    print(f"{name:28s} test accuracy per epoch: {' '.join(f'{a:.1%}' for a in runs[name]['val_acc'])}")
fig = plot.plot_history(runs, title="Small GoogLeNet: auxiliary-loss weight and heads")
plt.show()
final = [h.last["val_acc"] for h in runs.values()]
print(f"final test accuracies from {min(final):.1%} to {max(final):.1%}: a spread of {max(final) - min(final):.1%}")
cfg.expect(all(a > 0.5 for a in final), "every variant should learn (chance is 10%)")

# %% [markdown]
# Yes, the curves change. The training losses move apart partly because they measure different things (with weight
# 1.0 each head's loss counts fully; with one head there is one term fewer), but the validation curves — the plain
# cross-entropy and accuracy of the main output, which do compare — differ too, by the spread printed above. The
# heads' losses send extra gradient into the layers before them, so the three runs take different paths from the
# first step on. What one seed per setting cannot tell is whether the order would hold over other seeds: all three
# learn, and the way to rank them is the same cell in a loop over seeds. The paper's weight 0.3 was chosen for a deep
# network without BatchNorm, where the extra gradient was the point.

# %% [markdown]
# ## Exercise 4
#
# The auxiliary heads pool to 4×4 with `nn.AdaptiveAvgPool2d`. The paper writes "5×5 average pooling with stride
# 3". Show that both give a 4×4 output on a 14×14 map. Are the values the same? Find an input size where even the
# shapes differ.

# %%
# NBVAL_CHECK_OUTPUT
adaptive, paper = nn.AdaptiveAvgPool2d((4, 4)), nn.AvgPool2d(5, stride=3)
row = torch.arange(14.0).view(1, 1, 1, 14).expand(1, 1, 14, 14)  # value = column index: the window means show
print(f"14×14: adaptive {tuple(adaptive(row).shape[-2:])}, paper's {tuple(paper(row).shape[-2:])}")
print(f"window centres along a row: adaptive {adaptive(row)[0, 0, 0].tolist()}, paper's {paper(row)[0, 0, 0].tolist()}")
torch.manual_seed(0)
x = torch.randn(1, 1, 14, 14)
print(f"same values on a random map: {torch.allclose(adaptive(x), paper(x))}")
differ = [side for side in range(5, 30) if paper(torch.zeros(1, 1, side, side)).shape[-1] != 4]
print(f"sides from 5 to 29 where the paper's pooling is not 4×4: {differ}")
assert adaptive(x).shape == paper(x).shape and not torch.allclose(adaptive(x), paper(x))

# %% [markdown]
# Both give 4×4 on a 14×14 map, but from different windows: the paper's are 5 wide and start every 3 pixels (0, 3,
# 6, 9: window centres 2, 5, 8, 11), PyTorch's adaptive pooling splits the map into 4 windows of 4 pixels starting
# at 0, 3, 7, 10 (centres 1.5, 4.5, 8.5, 11.5), so the values differ. The shapes agree only for 14 to 16 pixels;
# at any other size the paper's pooling gives another grid (e.g. 3×3 at 13, 5×5 at 17), which is why the adaptive
# version is used: the head works for any input size. torchvision's GoogLeNet pools adaptively too, and its
# auxiliary heads were never trained, so nothing depends on the paper's exact windows.

# %% [markdown]
# ## Exercise 5
#
# In full mode, load `models.googlenet(weights="DEFAULT", transform_input=False)` and classify the photo again.
# What changes, and why?
#
# What `transform_input` does can be checked without the weights: torchvision's preprocessing normalises every
# colour channel with ImageNet's mean and standard deviation, and `transform_input` turns that back into the
# $[-1, 1]$ scale, $(p - 0.5)/0.5$, on which the ported TensorFlow weights were trained:

# %%
# NBVAL_CHECK_OUTPUT
weights = tvm.GoogLeNet_Weights.IMAGENET1K_V1
photo = torch.from_numpy(data.sample_image("china.jpg")).permute(2, 0, 1)  # 3×H×W, uint8
image = weights.transforms()(photo)[None]  # 1×3×224×224, ImageNet-normalised
mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
pixels = image * std + mean  # back to [0, 1]
same = torch.allclose(transform_input(image), (pixels - 0.5) / 0.5, atol=1e-6)
print(f"transform_input gives (pixel - 0.5) / 0.5: {same}")
scale, shift = std.flatten() / 0.5, (mean.flatten() - 0.5) / 0.5
print(f"per channel, what the weights expect = {[round(v, 3) for v in scale.tolist()]} × what they get without "
      f"it + {[round(v, 3) for v in shift.tolist()]}")
print(f"input range with transform_input [{transform_input(image).min():.2f}, {transform_input(image).max():.2f}], "
      f"without [{image.min():.2f}, {image.max():.2f}]")
assert torch.allclose(transform_input(image), (pixels - 0.5) / 0.5, atol=1e-6)

# %%
if cfg.full:
    outputs = {}
    for flag in (True, False):
        net = models.googlenet(weights="DEFAULT", transform_input=flag).eval().to(cfg.device)
        with torch.no_grad():
            outputs[flag] = net(image.to(cfg.device)).softmax(dim=1)[0].cpu()
        top = outputs[flag].topk(5)
        names = ", ".join(f"{weights.meta['categories'][i]} {p:.1%}" for p, i in zip(top.values, top.indices))
        print(f"transform_input={flag}: {names}")
    assert not torch.allclose(outputs[True], outputs[False])
else:
    print("tiny mode: the two pretrained predictions are skipped (they need a 50 MB download); "
          "run with CNNCOURSE_MODE=full to compare their top-5 classes")

# %% [markdown]
# Without `transform_input` the network sees every pixel about 2.2 times too large (0.5 / std) and shifted, so its
# first layer's outputs, and BatchNorm's running statistics learned for the $[-1, 1]$ scale, no longer match:
# every activation downstream is off. On a clear photo the top class often survives, but its probability and the
# rest of the top-5 change (full mode prints both); on harder images the errors grow. The preprocessing a set of
# weights was trained with is part of those weights — which is why torchvision attaches `transforms()` to them.
