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
# # 05 · VGG: depth from stacks of 3×3 convolutions
#
# [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/cnncourse/cnncourse/blob/main/notebooks/05_vgg.ipynb)
#
# AlexNet mixed 11×11, 5×5 and 3×3 filters, chosen by trial and error. In 2014 Simonyan and Zisserman asked a
# cleaner question: keep everything else fixed — only 3×3 convolutions, 2×2 max pooling, the same classifier — and
# change only the **depth**. Their networks (11 to 19 weight layers) came second in that year's ImageNet challenge
# and showed that depth pays. This chapter builds the whole family from one list per network, measures where
# its memory and parameters go, shows why three 3×3 convolutions beat one 7×7, and trains a small VGG with and
# without batch normalisation.

# %%
# On Google Colab: install the course's helper package (Colab already has torch, so it is not reinstalled).
# Anywhere else this cell does nothing; locally, `pip install -r requirements.txt` has installed it.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "cnncourse @ git+https://github.com/cnncourse/cnncourse"], check=True)

# %%
import inspect
import warnings

import matplotlib.pyplot as plt
import torch
import torchvision.models as tvm
from torch import nn

import cnncourse
from cnncourse import data, models, plot, profile, results, train
from cnncourse.models.vgg import CONFIGS, make_layers

warnings.filterwarnings("ignore", category=UserWarning)
cfg = cnncourse.setup(seed=0)

# %% [markdown]
# ## One list per network
#
# The paper's Table 1 describes configurations A to E. Written as lists — a number is a 3×3 convolution with that
# many output channels (padding 1, so the size stays), `"M"` is a 2×2 max pooling with stride 2 (the size halves) —
# the four we use are:

# %%
# NBVAL_CHECK_OUTPUT
for name, config in CONFIGS.items():
    convs = sum(c != "M" for c in config)
    print(f"{name}: {convs:2d} conv + 3 FC = {convs + 3} weight layers  {config}")

# %% [markdown]
# Every block of convolutions ends in a pooling, and the channel count doubles after each pooling until it reaches
# 512 — the amount of computation per layer stays roughly constant while the image shrinks. One small function
# turns any such list into layers (this is the package's code; the notebook uses it as it is):

# %%
print(inspect.getsource(make_layers))

# %% [markdown]
# `models.vgg11` … `models.vgg19_bn` add torchvision's classifier (adaptive pooling to 7×7, then 4096, 4096 and
# 1000 units, with dropout) under torchvision's layer names. We build all eight on the `meta` device and compare
# their parameter counts with the metadata of torchvision's ImageNet weights:

# %%
# NBVAL_CHECK_OUTPUT
names = ["vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"]
print(f"{'model':9s} {'params':>12s} {'torchvision':>12s} {'GFLOPs':>7s}  equal")
for name in names:
    with torch.device("meta"):
        model = getattr(models, name)()
    params = profile.count_params(model)
    expected = tvm.get_model_weights(name).IMAGENET1K_V1.meta["num_params"]
    gflops = profile.count_flops(model, (1, 3, 224, 224)) / 1e9
    print(f"{name:9s} {params:12,d} {expected:12,d} {gflops:7.2f}  {params == expected}")

# %% [markdown]
# Going from 11 to 19 layers adds only 8% more parameters but 2.5× the computation: the added layers are
# convolutions, which are cheap in parameters and expensive in arithmetic. Batch normalisation adds two numbers
# per channel — a few thousand parameters.

# %% [markdown]
# ## Verify it against torchvision
#
# Our VGG-16-BN takes torchvision's (randomly initialised) state dict strictly and computes the same outputs in
# eval mode, where batch normalisation uses its running statistics. We build ours on the `meta` device and let
# `check_twin(..., assign=True)` hand it torchvision's tensors, so the 138M parameters are only initialised
# once. A 64×64 input is enough: it leaves 2×2 maps before the 7×7 adaptive pooling.

# %%
# NBVAL_CHECK_OUTPUT
reference = tvm.vgg16_bn(weights=None)
with torch.device("meta"):
    ours = models.vgg16_bn()
print(models.check_twin(ours, reference, torch.randn(2, 3, 64, 64), assign=True))
print(f"smallest input: {ours.min_input_size}×{ours.min_input_size} (five 2×2 poolings: 2**5 = 32)")
try:
    ours(torch.randn(1, 3, 28, 28))
except ValueError as err:
    print(f"ValueError: {err}")
del reference

# %% [markdown]
# ## Where the memory goes: a per-layer table
#
# `profile.layer_table` runs one forward pass with a hook on every layer and records its output shape, how many
# values it produced (× 4 bytes in float32) and how many parameters it holds. On the `meta` device this is free
# even for VGG-16 at 224×224. ReLU and dropout run *in place* here: they overwrite their input instead of
# allocating a new tensor, so the table's total skips them.

# %%
# NBVAL_CHECK_OUTPUT
with torch.device("meta"):
    vgg16 = models.vgg16()
rows = profile.layer_table(vgg16, (1, 3, 224, 224))
print(profile.format_layer_table(rows))

# %% [markdown]
# The seed's slide (from Stanford's CS231n) lists the same layers — the input, every convolution, every pooling
# and every fully-connected output — and concludes "TOTAL memory: 24M × 4 bytes ≈ 96 MB / image". Adding up its
# own rows gives less. Three ways of counting, all measured:

# %%
# NBVAL_CHECK_OUTPUT
image_values = 3 * 224 * 224
listed = image_values + sum(r.values for r in rows if r.kind in ("Conv2d", "MaxPool2d", "Linear"))
relu_too = listed + sum(r.values for r in rows if r.kind == "ReLU")
vgg16.train()
saved = profile.saved_activation_bytes(vgg16, torch.zeros(1, 3, 224, 224, device="meta"))
print(f"input + conv + pool + FC outputs (the slide's rows): {listed / 1e6:5.2f} M values = {4 * listed / 1e6:6.1f} MB")
print(f"... plus every ReLU output as a tensor of its own:   {relu_too / 1e6:5.2f} M values = {4 * relu_too / 1e6:6.1f} MB")
print(f"what autograd keeps for the backward pass (training): {saved / 1e6:6.1f} MB")
print(f"the slide's total: 24 M values x 4 bytes = {24e6 * 4 / 1e6:.0f} MB")

# %% [markdown]
# So the slide's rows add up to **15.2 M values, 61 MB** per image in float32; "24M ≈ 96 MB" is an addition
# slip in the slide (it is carried into the seed unchanged). Counting the ReLU outputs as separate tensors —
# what a network without in-place ReLUs allocates — gives 28.8 M values, 115 MB. Neither is what training
# really holds: autograd keeps the tensors the backward pass needs (each convolution's input, each pooling's input
# and the positions of its maxima as 8-byte integers, the ReLU outputs that double as the next layer's input), 72.8
# MB per image. Whatever the count, the lesson holds: almost all of it sits in the first two blocks at full
# resolution, and it grows with the batch — 64 images need 64 times as much.
#
# (All numbers here are MB = 10⁶ bytes; in MiB = 2²⁰ bytes, 61 MB is 58 MiB.)

# %% [markdown]
# ## Three 3×3 convolutions instead of one 7×7
#
# Each 3×3 convolution lets an output pixel see one more pixel in every direction, so a stack of *n* of them sees
# a (2n+1)×(2n+1) patch of the input: three see 7×7, like one 7×7 convolution. We measure the receptive field by
# back-propagating from the centre output pixel and looking at which input pixels get a nonzero gradient (`profile.receptive_field`). Then the
# price, for C input and C output channels (without biases): three 3×3 layers have 3·9·C² = 27C² weights, one 7×7
# layer 49C², 81% more — and the stack has three non-linearities instead of one.

# %%
# NBVAL_CHECK_OUTPUT
def conv(c: int, k: int) -> nn.Conv2d:
    return nn.Conv2d(c, c, k, padding=k // 2, bias=False)


C = 64
for n in (1, 2, 3, 4):
    stack = nn.Sequential(*[conv(C, 3) for _ in range(n)])
    h, w = profile.receptive_field(stack, (1, C, 21, 21))
    print(f"{n} x 3×3: receptive field {h}×{w}, "
          f"weights {profile.count_params(stack):,d} = {profile.count_params(stack) // C**2}·C²")
single = conv(C, 7)
h, w = profile.receptive_field(single, (1, C, 21, 21))
print(f"1 x 7×7: receptive field {h}×{w}, "
      f"weights {profile.count_params(single):,d} = {profile.count_params(single) // C**2}·C²")
three = nn.Sequential(*[conv(C, 3) for _ in range(3)])
ratio = profile.count_macs(single, (1, C, 56, 56)) / profile.count_macs(three, (1, C, 56, 56))
print(f"multiply-adds on a 56×56 map, 7×7 / three 3×3: {ratio:.3f} (= 49/27)")

# %% [markdown]
# ## Where the parameters live
#
# The convolutions do the work; the parameters are somewhere else. The first fully-connected layer connects every
# one of the 7·7·512 = 25,088 values of the last feature map to each of 4096 units.

# %%
# NBVAL_CHECK_OUTPUT
weighted = [r for r in rows if r.params]
total = sum(r.params for r in weighted)
fc1 = weighted[-3]
print(f"{fc1.name}: 7·7·512·4096 = {7 * 7 * 512 * 4096:,d} weights + 4,096 biases = {fc1.params:,d} "
      f"= {fc1.params / total:.1%} of {total:,d}")
conv_params = sum(r.params for r in weighted if r.kind == "Conv2d")
print(f"all 13 convolutions together: {conv_params:,d} = {conv_params / total:.1%}")

# %%
labels = [f"conv{i + 1}" for i in range(13)] + ["fc1", "fc2", "fc3"]
values = [r.params / 1e6 for r in weighted]
fig, ax = plt.subplots(figsize=(10, 3.8))
bars = ax.bar(labels, values, color=["C0"] * 13 + ["C3"] * 3)
ax.bar_label(bars, labels=[f"{v:.1f}" if v >= 1 else "" for v in values], fontsize=8)
ax.set_xlabel("layer (in order)")
ax.set_ylabel("parameters (millions)")
ax.set_title("VGG-16: parameters per layer — the first fully-connected layer holds 74%")
ax.grid(alpha=0.3, axis="y")
plt.show()

# %% [markdown]
# That one layer is why VGG's weight file is over 500 MB and why later networks (NiN, GoogLeNet, ResNet)
# replace it with global average pooling — chapter 06.

# %% [markdown]
# ## Train it: a small VGG with and without batch normalisation
#
# The paper trained configuration A first and then initialised the deeper networks from it, because a deep plain
# network trained from a random start was hard to get going. Batch normalisation (2015, chapter 08) fixed that:
# normalising each channel's activations over the batch keeps the signal at a steady scale through all layers.
#
# We train VGG-A's 8 convolutions + 3 FC layers, narrowed to an eighth of the width, with `small_input=True`
# (pooling to 1×1 and a narrow classifier, the variant for 32×32 images; no dropout, which only slows a short run
# down), once with and once without BN, with the same learning rate and the same initialisation scheme. Tiny mode
# trains an eighth of the width on the handwritten digits for 4 epochs; full mode half the width on CIFAR-10 (with
# random crops and flips) for 15 epochs at a constant learning rate. This is an experiment of ours, not one from the
# paper (which trained on ImageNet for 74 epochs), so the `paper` schedule runs the same 15 epochs.

# %%
train_set, test_set, _ = data.small_images(cfg, augment=True)
channels = train_set[0][0].shape[0]
EPOCHS = {"tiny": 4, "full": 15}  # no paper schedule: the paper has no such experiment
width, epochs = cfg.pick(tiny=0.125, full=0.5), cfg.pick(**EPOCHS)

histories = {}
for bn in (False, True):
    torch.manual_seed(0)
    net = models.vgg("A", batch_norm=bn, num_classes=10, in_channels=channels, width=width, small_input=True,
                     dropout=0.0)
    train_loader, test_loader = data.loaders(train_set, test_set, batch_size=cfg.pick(tiny=32, full=128), seed=0,
                                             device=cfg.device)
    label = "with BN" if bn else "without BN"
    print(label)
    histories[label] = train.fit(net, train_loader, epochs, val_loader=test_loader, lr=0.05, device=cfg.device,
                                 checkpoint=cfg.checkpoint(f"05_vgg-{'bn' if bn else 'plain'}"))

# %%
fig = plot.plot_history(histories, title=f"VGG-A at {width:g}× width on {channels}×32×32 images: batch norm or not")
plt.show()

# %% [markdown]
# With the same learning rate and the same initialisation, the network with batch normalisation learns from its
# first epoch, while the plain one does not get going at all in this short run: through eleven layers its
# gradients are too badly scaled for this learning rate (exercise 3 looks for one that works). Chapter 08 writes
# batch normalisation by hand and looks at why it helps.

# %% [markdown]
# ## What full mode costs, and the results
#
# Both full-mode runs, estimated from the half-width network's FLOPs (`profile.estimate_minutes`; the README states
# its assumptions):

# %%
# NBVAL_CHECK_OUTPUT
with torch.device("meta"):
    half_width = models.vgg("A", batch_norm=True, num_classes=10, width=0.5, small_input=True, dropout=0.0)
minutes = 2 * profile.estimate_minutes(half_width, (3, 32, 32), images=50_000, epochs=EPOCHS["full"],
                                       batch_size=128, eval_images=10_000)
estimated = {"class": minutes, "paper": minutes}
print(f"full mode, either schedule: {EPOCHS['full']} epochs per run, about {minutes:.1f} GPU minutes for both runs")

# %%
_ = results.record(
    cfg, "05_vgg",
    {"parameters, VGG-16": profile.count_params(vgg16),
     "final test accuracy with BN (%)": 100 * histories["with BN"].last["val_acc"],
     "final test accuracy without BN (%)": 100 * histories["without BN"].last["val_acc"]},
    references={"parameters, VGG-16": tvm.VGG16_Weights.DEFAULT.meta["num_params"]},
    estimated_minutes=estimated,
)

# %% [markdown]
# ## Exercises
#
# Worked solutions: [solutions/05_vgg.ipynb](solutions/05_vgg.ipynb) [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/cnncourse/cnncourse/blob/main/notebooks/solutions/05_vgg.ipynb)
#
# 1. Write configuration C of the paper (like D, but the last convolution of blocks 3–5 is 1×1) as a list and build
#    it with the package's `VGG` class. `make_layers` only knows 3×3 convolutions, so mark the 1×1 ones (e.g. as
#    `(256, 1)`) and write a `make_layers` that understands them. How many parameters does it have?
# 2. Use `profile.layer_table` to find the layer with the largest output in VGG-19 at 224×224. How much memory do
#    its activations need for a batch of 32?
# 3. Train the small VGG without BN with learning rates 0.01, 0.05 and 0.1. Which ones learn at all?
# 4. Replace VGG-16's classifier by global average pooling and one linear layer (512 → 1000). How many parameters
#    are left?
# 5. Compute the receptive field of VGG-16's last convolution, taking the poolings into account.
