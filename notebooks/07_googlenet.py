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
# # 07 · GoogLeNet / Inception v1: wider, not just deeper
#
# [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/cnncourse/cnncourse/blob/main/notebooks/07_googlenet.ipynb)
#
# VGG (chapter 05) made networks better by making them deeper, and paid for it: every extra layer of 3×3
# convolutions costs parameters and multiply-adds in proportion to its channels squared. Szegedy et al.'s
# *Going Deeper with Convolutions* (2014), whose network GoogLeNet won that year's ImageNet classification
# challenge, asked how to grow a network in **width** as well — several filter sizes side by side, so that each
# layer looks at its input at several scales — without the cost exploding. The answer is the **Inception module**
# with 1×1 convolutions (chapter 06) that shrink the channels before every expensive convolution. This chapter
# measures what those reductions save, builds GoogLeNet from the module, checks it against torchvision's, and
# trains a small one with and without its two auxiliary classifiers.

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
import torch.nn.functional as F
import torchvision.models as tvm
from torch import nn

import cnncourse
from cnncourse import data, models, plot, profile, results, train
from cnncourse.models.googlenet import AUX_WEIGHT, INCEPTION_V1, GoogLeNetOutputs, Inception, aux_loss

warnings.filterwarnings("ignore", category=UserWarning)
cfg = cnncourse.setup(seed=0)

# %% [markdown]
# ## Wider, not just deeper
#
# First the result, measured. We build AlexNet, VGG-16 and GoogLeNet on PyTorch's `meta` device (shapes only, no
# memory, nothing computed) and count their parameters and the multiply-adds of one 224×224 image. GoogLeNet is
# counted without its auxiliary classifiers, which only exist during training (see below).

# %%
# NBVAL_CHECK_OUTPUT
with torch.device("meta"):
    nets = {"AlexNet": models.alexnet(), "VGG-16": models.vgg16(), "GoogLeNet": models.googlenet(aux_logits=False)}
size = {}
for name, net in nets.items():
    layers = sum(isinstance(m, (nn.Conv2d, nn.Linear)) for m in net.modules())
    size[name] = profile.count_params(net), profile.count_macs(net, (1, 3, 224, 224))
    print(f"{name:10s} {layers:3d} conv/linear layers  {size[name][0] / 1e6:6.2f} M parameters  "
          f"{size[name][1] / 1e9:6.2f} G multiply-adds")
print(f"GoogLeNet vs AlexNet: {size['AlexNet'][0] / size['GoogLeNet'][0]:.1f}x fewer parameters; "
      f"vs VGG-16: {size['VGG-16'][1] / size['GoogLeNet'][1]:.1f}x fewer multiply-adds")

# %% [markdown]
# GoogLeNet has far more layers (its 22 layers of depth count each Inception module as two; the count above also
# includes every parallel branch) and yet fewer parameters than AlexNet and a fraction of VGG-16's computation.
# Two design choices do it: the 1×1 reductions inside every module, and global average pooling instead of
# fully-connected layers at the end (chapter 06: 51 M parameters saved there alone).

# %% [markdown]
# ## The naive Inception module and the one with 1×1 reductions
#
# The idea: instead of choosing one filter size per layer, apply 1×1, 3×3 and 5×5 convolutions and a 3×3 max
# pooling to the same input, all padded so that height and width stay, and concatenate their outputs along the
# channels. The next layer then picks whatever scale is useful. Written directly (teaching code):

# %%
class NaiveInception(nn.Module):
    """1×1 | 3×3 | 5×5 convolutions and a 3×3 max pooling on the same input, concatenated along the channels."""

    def __init__(self, in_channels: int, c1: int, c3: int, c5: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, c1, 1)
        self.conv3 = nn.Conv2d(in_channels, c3, 3, padding=1)
        self.conv5 = nn.Conv2d(in_channels, c5, 5, padding=2)
        self.pool = nn.MaxPool2d(3, stride=1, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = [self.conv1(x), self.conv3(x), self.conv5(x), self.pool(x)]
        return torch.cat([F.relu(b) for b in branches], 1)


# %% [markdown]
# Two things go wrong. The 3×3 and 5×5 convolutions see all input channels, so they are expensive. And the
# pooling branch passes *all* its input channels through, so the output always has more channels than the
# input, and a stack of such modules grows wider with every module. GoogLeNet's module (the paper's figure 2b)
# puts a 1×1 convolution in front of the 3×3 and the 5×5 ("reduce") and after the pooling ("pool proj").
# We compare both with the widths of GoogLeNet's first module, *inception (3a)*, on its 28×28×192 input; the
# package's `Inception` with `five_by_five=True` is the paper's module (why that flag exists is explained below).

# %%
# NBVAL_CHECK_OUTPUT
c1, c3red, c3, c5red, c5, pool_proj = INCEPTION_V1["3a"]
shape = (1, 192, 28, 28)
naive = NaiveInception(192, c1, c3, c5)
reduced = Inception(192, *INCEPTION_V1["3a"], five_by_five=True)
for name, block in {"naive": naive, "with 1×1 reductions": reduced}.items():
    out = block(torch.zeros(shape))
    print(f"{name:20s} output {tuple(out.shape)}  {profile.count_params(block):9,d} parameters  "
          f"{profile.count_macs(block, shape) / 1e6:6.1f} M multiply-adds")
channels = [192]
for _ in range(3):  # three naive modules in a row: the pooling branch carries every input channel along
    channels.append(c1 + c3 + c5 + channels[-1])
print(f"channels through three stacked naive modules: {' -> '.join(map(str, channels))}")

# %% [markdown]
# ## The seed's example, measured
#
# The course's slides make the saving concrete with one branch: a 14×14×480 input and 48 filters of 5×5 (stride
# 1, padding 2, so the output is 14×14×48). Every output value needs 5·5·480 multiplications, so the direct
# convolution needs (14·14·48)·(5·5·480) ≈ 112.9 M of them. With 16 filters of 1×1 first, the 5×5 filters only
# see 16 channels: (14·14·16)·(1·1·480) + (14·14·48)·(5·5·16) ≈ 5.3 M. We let PyTorch's own FLOP counter
# (`torch.utils.flop_counter`, via `profile.count_macs`) count the same two layers and compare:

# %%
# NBVAL_CHECK_OUTPUT
shape = (1, 480, 14, 14)
direct = nn.Conv2d(480, 48, kernel_size=5, padding=2, bias=False)
with_reduction = nn.Sequential(nn.Conv2d(480, 16, kernel_size=1, bias=False),
                               nn.Conv2d(16, 48, kernel_size=5, padding=2, bias=False))
by_hand = {"direct 5×5": (14 * 14 * 48) * (5 * 5 * 480),
           "1×1 to 16, then 5×5": (14 * 14 * 16) * (1 * 1 * 480) + (14 * 14 * 48) * (5 * 5 * 16)}
for (name, hand), layer in zip(by_hand.items(), [direct, with_reduction]):
    counted = profile.count_macs(layer, shape)
    print(f"{name:20s} by hand {hand:11,d} ({hand / 1e6:5.1f} M)  FLOP counter {counted:11,d} multiply-adds "
          f"= {profile.count_flops(layer, shape):11,d} FLOPs  same: {hand == counted}")
print(f"saving: {by_hand['direct 5×5'] / by_hand['1×1 to 16, then 5×5']:.1f}x fewer multiplications, "
      f"{profile.count_params(direct) / profile.count_params(with_reduction):.1f}x fewer weights")

# %% [markdown]
# The hand count and PyTorch's counter agree exactly (the counter reports FLOPs, two per multiply-add, which is
# why the course's `count_macs` halves them). The price of the saving is that the 5×5 filters now see a
# 16-channel summary of the input instead of all 480 channels: the 1×1 layer has to learn which combinations of
# channels matter, which is what "a low-dimensional embedding" means in the paper.

# %% [markdown]
# ## GoogLeNet, module by module
#
# The package's `Inception` block, with torchvision's names (`branch1` … `branch4`) so that torchvision's weights
# load into it. Every convolution is a `BasicConv2d`: convolution, BatchNorm, ReLU. The 2014 paper had no
# BatchNorm (it came out a few months later, chapter 08); torchvision's weights were trained with it.

# %%
print(inspect.getsource(Inception))

# %% [markdown]
# Nine such modules in three stages, with max poolings between the stages that halve the grid (28 → 14 → 7), a
# stem of plain convolutions in front, and global average pooling plus one linear layer at the end. The widths
# of every module are the paper's Table 1 (`INCEPTION_V1` in the package). A torchinfo summary of the whole
# network (eval mode, so the auxiliary heads do not run) on the `meta` device:

# %%
# NBVAL_CHECK_OUTPUT
with torch.device("meta"):
    googlenet = models.googlenet(aux_logits=False)
print(profile.summary(googlenet, (1, 3, 224, 224), device="meta", depth=1))

# %% [markdown]
# Where do parameters and computation go? We group the modules by stage and add up both, with the FLOP counter's
# per-module counts:

# %%
# NBVAL_CHECK_OUTPUT
stages = {
    "stem (conv1-conv3)": ["conv1", "conv2", "conv3"],
    "stage 3 (28×28)": ["inception3a", "inception3b"],
    "stage 4 (14×14)": ["inception4a", "inception4b", "inception4c", "inception4d", "inception4e"],
    "stage 5 (7×7)": ["inception5a", "inception5b"],
    "classifier (fc)": ["fc"],
}
flops = profile.count_flops(googlenet, (1, 3, 224, 224), by_module=True)
rows = []
for stage, names in stages.items():
    params = sum(profile.count_params(getattr(googlenet, n)) for n in names)
    macs = sum(flops.get(f"GoogLeNet.{n}", 0) for n in names) // 2
    rows.append((stage, params, macs))
total_params, total_macs = profile.count_params(googlenet), flops["Global"] // 2
print(f"{'stage':20s} {'parameters':>12s} {'share':>6s} {'multiply-adds':>15s} {'share':>6s}")
for stage, params, macs in rows:
    print(f"{stage:20s} {params:12,d} {params / total_params:6.1%} {macs:15,d} {macs / total_macs:6.1%}")
print(f"{'total':20s} {total_params:12,d} {'':6s} {total_macs:15,d}")
ops = tvm.GoogLeNet_Weights.DEFAULT.meta["_ops"]
print(f"torchvision's metadata: {tvm.GoogLeNet_Weights.DEFAULT.meta['num_params']:,d} parameters, {ops} G ops "
      f"(multiply-adds); ours: {total_macs / 1e9:.3f} G")

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.2))
labels = [r[0] for r in rows]
axes[0].barh(labels[::-1], [r[1] / 1e6 for r in rows][::-1], color="C0")
axes[0].set_xlabel("parameters (millions)")
axes[0].set_title("GoogLeNet: parameters per stage")
axes[1].barh(labels[::-1], [r[2] / 1e6 for r in rows][::-1], color="C1")
axes[1].set_xlabel("multiply-adds per 224×224 image (millions)")
axes[1].set_title("GoogLeNet: computation per stage")
fig.tight_layout()
plt.show()

# %% [markdown]
# The parameters sit late: stages 4 and 5 have the most channels. The computation is spread differently: the
# stem, just three convolutions, costs almost a third of it, because it runs on the largest grids (112×112 and
# 56×56), while stage 5 with over a third of the parameters costs little on its 7×7 grid. The total, about 1.5
# billion multiply-adds, is the budget the paper set itself so that the network would be usable outside a lab,
# and our count matches torchvision's metadata.
#
# **State-dict compatibility.** torchvision's `googlenet` with its own random initialisation, its weights loaded
# *strictly* into ours (every key present, every shape equal) and both run on the same image, first in eval mode,
# then in training mode, where the auxiliary heads run too (`check_twin(train=True)` seeds the random-number
# generator identically before each model, so both draw the same dropout masks):

# %%
# NBVAL_CHECK_OUTPUT
torch.manual_seed(0)
reference = tvm.googlenet(weights=None, aux_logits=True, init_weights=True)
ours = models.googlenet(aux_logits=True, init_weights=False)
x = torch.randn(1, 3, 224, 224)
print(models.check_twin(ours, reference, x))
print(models.check_twin(ours, reference, x, train=True))

# %% [markdown]
# ## Auxiliary classifiers
#
# A 22-layer network trained in 2014, without BatchNorm, risked gradients that fade on their way back to the early
# layers. GoogLeNet therefore attaches two small classifiers to intermediate layers, after inception (4a) and
# (4d): average pooling to 4×4, a 1×1 convolution to 128 channels, a fully-connected layer of 1024 units with
# dropout 0.7, and a linear layer to the classes. During training their losses are added to the main loss with
# weight 0.3 each; at inference they are dropped. In PyTorch the model returns the three outputs only in training
# mode:

# %%
# NBVAL_CHECK_OUTPUT
small = models.googlenet_small(num_classes=10, in_channels=1, width=0.125)
x = torch.randn(4, 1, 32, 32)
small.train()
out = small(x)
print(f"training mode: {type(out).__name__}{out._fields}, shapes {[tuple(t.shape) for t in out]}")
small.eval()
print(f"eval mode:     {type(small(x)).__name__} of shape {tuple(small(x).shape)}")
with_aux, without_aux = models.googlenet().eval(), models.googlenet(aux_logits=False)
heads = profile.count_params(with_aux) - profile.count_params(without_aux)
share = heads / profile.count_params(with_aux)
print(f"googlenet: {profile.count_params(with_aux):,d} parameters with the heads, "
      f"{profile.count_params(without_aux):,d} without; the heads hold {heads:,d} ({share:.0%})")
print(f"one head's first fully-connected layer: {profile.count_params(with_aux.aux1.fc1):,d} parameters")

# %% [markdown]
# Almost half of the parameters of the training network sit in the two heads, mostly in their 2048 → 1024
# fully-connected layers, and all of them are thrown away after training. The training loss that combines the
# three outputs is the package's `aux_loss`:

# %%
print(inspect.getsource(aux_loss))

# %%
# NBVAL_CHECK_OUTPUT
torch.manual_seed(0)
logits, aux2, aux1 = torch.randn(3, 8, 10).unbind(0)
y = torch.randint(0, 10, (8,))
by_hand = F.cross_entropy(logits, y) + AUX_WEIGHT * (F.cross_entropy(aux1, y) + F.cross_entropy(aux2, y))
combined = aux_loss(GoogLeNetOutputs(logits, aux2, aux1), y)
print(f"aux weight {AUX_WEIGHT}; aux_loss equals main + 0.3·(aux1 + aux2): {torch.allclose(combined, by_hand)}")
print(f"in eval mode (a plain tensor) it is the plain cross-entropy: "
      f"{torch.allclose(aux_loss(logits, y), F.cross_entropy(logits, y))}")

# %% [markdown]
# ## torchvision's "5×5" branch is a 3×3 (pytorch/vision#906)
#
# Read torchvision's `googlenet.py` and the third branch of every Inception module, the one its arguments call
# `ch5x5red` and `ch5x5`, has `kernel_size=3`. It is a known discrepancy, not an improvement: torchvision's
# weights were ported from TensorFlow-slim's `inception_v1`, which has the same 3×3 there (reported to TensorFlow
# as a bug, tensorflow/tensorflow#7130, and left alone because fixing it would break the published checkpoint).
# A model that loads those weights must keep the 3×3, so torchvision (issue 906, and a comment in its source)
# keeps it, and so does `models.googlenet`. `five_by_five=True` builds the paper's module instead. What the
# difference costs:

# %%
# NBVAL_CHECK_OUTPUT
with torch.device("meta"):
    paper = models.googlenet(aux_logits=False, five_by_five=True)
extra = {name: red * out * (5 * 5 - 3 * 3) for name, (_, _, _, red, out, _) in INCEPTION_V1.items()}
measured = profile.count_params(paper) - profile.count_params(googlenet)
print(f"parameters: torchvision {profile.count_params(googlenet):,d}, paper's 5×5 {profile.count_params(paper):,d}, "
      f"difference {measured:,d} = sum of reduce·out·(25 - 9) over the modules: {measured == sum(extra.values())}")
print("largest extra per module:", ", ".join(f"{n} {e:,d}" for n, e in sorted(extra.items(), key=lambda t: -t[1])[:3]))
macs = profile.count_macs(paper, (1, 3, 224, 224))
print(f"multiply-adds: {total_macs / 1e9:.3f} G with 3×3, {macs / 1e9:.3f} G with 5×5 (+{macs / total_macs - 1:.1%})")
block = paper.inception3a  # the paper's Table 1 lists 159K parameters for inception (3a)
weights_3a = sum(m.weight.numel() for m in block.modules() if isinstance(m, nn.Conv2d))
print(f"inception (3a) with 5×5: {weights_3a:,d} convolution weights")
# the paper's network had no BatchNorm: one bias per convolution output instead of BatchNorm's scale and shift
convs = [m for m in paper.modules() if isinstance(m, nn.Conv2d)]
as_in_paper = sum(m.weight.numel() + m.out_channels for m in convs) + profile.count_params(paper.fc)
print(f"the paper's layers with biases instead of BatchNorm: {as_in_paper:,d} parameters")

# %% [markdown]
# About 6% more parameters and multiply-adds for the paper's version. A 3×3 sees a smaller neighbourhood than a
# 5×5, so torchvision's GoogLeNet is, strictly, a slightly different network from the paper's; it still reaches
# 69.8% top-1 on ImageNet (its metadata, below). The paper's own Table 1 is not exact either: it lists 159K
# parameters for inception (3a), where its layers have 163,328 weights, and its total of about 6.8 M is a few
# percent below the 7.0 M that its layer list gives when counted.

# %% [markdown]
# ## Training a small GoogLeNet with and without the auxiliary heads
#
# `models.googlenet_small` is the same network (same modules, same heads) with every channel count scaled by
# `width` and a stem for 32×32 images: a 3×3 convolution with stride 1 instead of the 7×7 one with stride 2, so the
# grids are 16, 8, 4, 2 instead of 56, 28, 14, 7. Tiny mode trains it at an eighth of the width on the grey
# handwritten digits for 3 epochs; full mode trains the full width on CIFAR-10 (random crops and flips) for 30
# epochs. Both runs start from the same weights and see the same batches; the only difference is whether the two
# heads exist and add their losses (`aux_loss`) to the main one. The optimiser is ours (Adam, learning rate 0.002
# decayed along a cosine): the paper trained on ImageNet only, with asynchronous SGD (momentum 0.9, the learning
# rate lowered by 4% every 8 epochs), and has no experiment like this one, so there is no paper schedule —
# `CNNCOURSE_SCHEDULE=paper` runs the same 30 epochs.

# %%
train_set, test_set, class_names = data.small_images(cfg, augment=True)
channels = train_set[0][0].shape[0]
EPOCHS = {"tiny": 3, "full": 30}  # no paper schedule: the paper trained on ImageNet only
epochs, width = cfg.pick(**EPOCHS), cfg.pick(tiny=0.125, full=1.0)
runs = {}
for heads in (True, False):
    torch.manual_seed(0)
    net = models.googlenet_small(10, channels, width=width, aux_logits=heads)
    train_loader, test_loader = data.loaders(train_set, test_set, batch_size=cfg.pick(tiny=32, full=128), seed=0,
                                             device=cfg.device)
    optimizer = torch.optim.Adam(net.parameters(), lr=2e-3)
    name = "with auxiliary heads" if heads else "without"
    print(name)
    runs[name] = train.fit(net, train_loader, epochs, val_loader=test_loader, optimizer=optimizer, loss_fn=aux_loss,
                           schedule="cosine", device=cfg.device,
                           checkpoint=cfg.checkpoint(f"07_googlenet-{'aux' if heads else 'noaux'}"))
fig = plot.plot_history(runs, title=f"Small GoogLeNet ({width:g}× width, {channels}×32×32 images): "
                                    "auxiliary losses (weight 0.3) on and off")
plt.show()

# %% [markdown]
# The two training losses are different quantities and do not compare: with the heads it is the main loss plus
# 0.3 times each auxiliary loss. The dashed validation curves are the plain cross-entropy of the main output in
# both runs, so those compare directly. Early on they can lag behind the training curves (the first epoch's
# numbers below): validation runs in eval mode, with BatchNorm's running statistics (chapter 08), which trail the
# quickly changing weights early in training. The first and final test accuracies:

# %%
for name, history in runs.items():
    print(f"{name:22s} test accuracy after 1 epoch {history['val_acc'][0]:.1%} "
          f"(training accuracy {history['train_acc'][0]:.1%}), after {epochs} epochs {history.last['val_acc']:.1%}")
cfg.expect(all(h.last["val_acc"] > 0.5 for h in runs.values()), "both small GoogLeNets should learn (chance is 10%)")

# %% [markdown]
# One short run per setting, with one seed, is too little to say whether the heads help here (exercise 3 varies
# them). Nor is there much reason to expect it. The heads were a remedy for a 22-layer network without BatchNorm,
# whose early layers received weak gradients; this network has BatchNorm after every convolution, so that problem
# is absent, and the auxiliary losses can pull the intermediate layers towards features that suit the two small
# classifiers rather than the main one. The Inception-v3 paper (chapter 09) found on ImageNet that the
# auxiliary classifiers did not speed up early training and helped only a little near the end, more like a
# regulariser than a cure for vanishing gradients. BatchNorm (next chapter) solved that problem
# directly, and later networks dropped the heads.

# %% [markdown]
# ## Use it: a real photo through ImageNet weights
#
# torchvision's GoogLeNet weights come with their preprocessing (resize to 256, centre crop 224, ImageNet
# normalisation). The weights themselves were trained on pixels scaled to [-1, 1] (TensorFlow's convention), so
# `models.googlenet(weights=...)` sets `transform_input=True`, which converts ImageNet-normalised input into that
# range inside the model, and drops the auxiliary heads, whose weights in the file were never trained.

# %%
# NBVAL_CHECK_OUTPUT
weights = tvm.GoogLeNet_Weights.IMAGENET1K_V1
preprocess = weights.transforms()
photo = data.sample_image("china.jpg")
image = preprocess(torch.from_numpy(photo).permute(2, 0, 1))  # H×W×3 uint8 -> 3×224×224 float
metrics = weights.meta["_metrics"]["ImageNet-1K"]
print(f"photo {photo.shape} -> model input {tuple(image.shape)}; weights file {weights.url.rsplit('/', 1)[1]}")
print(f"reported ImageNet accuracy: top-1 {metrics['acc@1']}%, top-5 {metrics['acc@5']}%")

# %%
if cfg.full:
    pretrained = models.googlenet(weights=weights).eval().to(cfg.device)
    with torch.no_grad():
        probs = pretrained(image[None].to(cfg.device)).softmax(dim=1)[0].cpu()
    fig = plot.plot_top_classes(photo, probs, weights.meta["categories"],
                                "GoogLeNet (torchvision ImageNet weights): top-5 classes")
    plt.show()
else:
    print(f"tiny mode: prediction with pretrained ImageNet weights skipped (it needs a "
          f"{weights.meta['_file_size']:.0f} MB download); "
          "run with CNNCOURSE_MODE=full to see the top-5 classes")

# %% [markdown]
# ## What full mode costs, and the results
#
# Both full-mode training runs, estimated from the full-width small GoogLeNet's FLOPs (`profile.estimate_minutes`;
# the README states its assumptions; the auxiliary heads, which add a few percent in training, are not counted),
# plus the one-time downloads of CIFAR-10 and of the weight file above:

# %%
# NBVAL_CHECK_OUTPUT
with torch.device("meta"):
    full_width = models.googlenet_small(10, 3, width=1.0, aux_logits=False)
minutes = 2 * profile.estimate_minutes(full_width, (3, 32, 32), images=50_000, epochs=EPOCHS["full"], batch_size=128,
                                       eval_images=10_000)
estimated = {"class": minutes, "paper": minutes}
print(f"small GoogLeNet at full width: {profile.count_params(full_width):,d} parameters, "
      f"{profile.count_macs(full_width, (1, 3, 32, 32)) / 1e6:.1f} M multiply-adds per 32×32 image")
print(f"full mode, either schedule: {EPOCHS['full']} epochs per run, about {minutes:.1f} GPU minutes for both runs")

# %%
_ = results.record(
    cfg, "07_googlenet",
    {"parameters without auxiliary heads": profile.count_params(googlenet),
     "parameters with auxiliary heads": profile.count_params(with_aux),
     "G multiply-adds per 224×224 image": total_macs / 1e9,
     "test accuracy with auxiliary heads (%)": 100 * runs["with auxiliary heads"].last["val_acc"],
     "test accuracy without auxiliary heads (%)": 100 * runs["without"].last["val_acc"]},
    references={"parameters without auxiliary heads": tvm.GoogLeNet_Weights.DEFAULT.meta["num_params"],
                "parameters with auxiliary heads": profile.count_params(reference),  # torchvision's, with its heads
                "G multiply-adds per 224×224 image": ops},
    estimated_minutes=estimated,
)

# %% [markdown]
# ## Exercises
#
# Worked solutions: [solutions/07_googlenet.ipynb](solutions/07_googlenet.ipynb) [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/cnncourse/cnncourse/blob/main/notebooks/solutions/07_googlenet.ipynb)
#
# 1. Repeat the seed's calculation for the 3×3 branch of inception (4a) (input 14×14×480, reduce to 96, then 208
#    filters of 3×3). How much does its reduction save? Check your numbers with `profile.count_macs`.
# 2. Build `NaiveInception` with the widths of all nine modules (ignoring the reductions) and stack them. How many
#    channels and multiply-adds does the last module have?
# 3. Train `googlenet_small` with `aux_loss(..., aux_weight=1.0)` and with only the head after inception (4d)
#    (set `net.aux1 = None`). Do the curves change?
# 4. The auxiliary heads pool to 4×4 with `nn.AdaptiveAvgPool2d`. The paper writes "5×5 average pooling with
#    stride 3". Show that both give a 4×4 output on a 14×14 map. Are the values the same? Find an input size where
#    even the shapes differ.
# 5. In full mode, load `models.googlenet(weights="DEFAULT", transform_input=False)` and classify the photo
#    again. What changes, and why?
