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
# # Solutions · 03 LeNet-5
#
# [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/cnncourse/cnncourse/blob/main/notebooks/solutions/03_lenet.ipynb)
#
# Worked solutions to the exercises of [chapter 03](../03_lenet.ipynb). Try each exercise before reading its
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
from collections import OrderedDict

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

import cnncourse
from cnncourse import data, models, plot, profile, train

warnings.filterwarnings("ignore", category=UserWarning)
cfg = cnncourse.setup(seed=0)

# %% [markdown]
# Every exercise changes one thing in LeNet-5 and trains it with the chapter's recipe: the same digits (tiny mode:
# scikit-learn's 1,797, full mode: MNIST), SGD with momentum, learning rate 0.05 on a cosine schedule, the same seed
# for the weights and the data order — in tiny mode for 5 epochs instead of the chapter's 8, to keep this notebook
# short (full mode trains the chapter's 10). `lenet_like` builds LeNet-5 with the paper's layer names and the two
# knobs the exercises turn; with its defaults it is the package's `models.lenet5`, which `check_twin` confirms.

# %%
# NBVAL_CHECK_OUTPUT
def lenet_like(pool: str | None = "avg", c5_kernel: int = 5) -> nn.Sequential:
    """LeNet-5 (tanh) for 1-channel images; ``pool`` is "avg", "max" or None (no S2/S4); C5's kernel size."""
    pooling = {"avg": nn.AvgPool2d, "max": nn.MaxPool2d}
    layers = [("c1", nn.Conv2d(1, 6, 5)), ("act1", nn.Tanh())]
    layers += [("s2", pooling[pool](2))] if pool else []
    layers += [("c3", nn.Conv2d(6, 16, 5)), ("act3", nn.Tanh())]
    layers += [("s4", pooling[pool](2))] if pool else []
    layers += [("c5", nn.Conv2d(16, 120, c5_kernel)), ("act5", nn.Tanh()), ("flatten", nn.Flatten()),
               ("f6", nn.Linear(120, 84)), ("act6", nn.Tanh()), ("output", nn.Linear(84, 10))]
    return nn.Sequential(OrderedDict(layers))


print(models.check_twin(lenet_like(), models.lenet5(), torch.randn(4, 1, 32, 32)))

# %%
train_set, test_set = data.handwritten_digits(cfg)
batch_size, epochs = cfg.pick(tiny=32, full=128), cfg.pick(tiny=5, full=10)  # the chapter: 8 in tiny mode
print(f"{cfg.mode} mode: {len(train_set):,} training and {len(test_set):,} test digits, {epochs} epochs per run")


def run(build, name: str, train_data=train_set, test_data=test_set):
    """Train a fresh ``build()`` with the chapter's recipe; returns the model and its `History`."""
    torch.manual_seed(cfg.seed)
    model = build()
    train_loader, test_loader = data.loaders(train_data, test_data, batch_size=batch_size, seed=cfg.seed,
                                             device=cfg.device)
    history = train.fit(model, train_loader, epochs, val_loader=test_loader, lr=0.05, schedule="cosine",
                        device=cfg.device, verbose=False, checkpoint=cfg.checkpoint(f"03_lenet-solutions-{name}"))
    return model, history


lenet, history = run(lenet_like, "avg")
print(f"LeNet-5 as in the chapter: test accuracy {history.last['val_acc']:.2%}")

# %% [markdown]
# ## Exercise 1
#
# Remove S2 and S4 (use stride-1 convolutions throughout). What happens to C5's input size, the number of
# parameters, and the accuracy?
#
# Without the two poolings the maps shrink only by the convolutions' borders: 32 → 28 (C1) → 24 (C3). C5's input
# becomes 16×24×24 instead of 16×5×5. To keep C5 what it is in LeNet-5 — a layer that sees its whole input and
# outputs 120 numbers — its kernel must grow to 24×24. (Keeping a 5×5 C5 instead leaves a 120×20×20 map, and F6
# then needs a weight for each of its 48,000 values; both variants are counted.)

# %%
# NBVAL_CHECK_OUTPUT
no_pool = lenet_like(pool=None, c5_kernel=24)
with torch.device("meta"):
    small_c5 = nn.Sequential(*list(lenet_like(pool=None).children())[:-3], nn.Linear(120 * 20 * 20, 84), nn.Tanh(),
                             nn.Linear(84, 10))
x = torch.zeros(1, 1, 32, 32)
print(f"C5 input: with S2/S4 {tuple(lenet_like()[:6](x).shape[1:])}, without {tuple(no_pool[:4](x).shape[1:])}")
for name, model in {"LeNet-5": models.lenet5(), "no pooling, 24×24 C5": no_pool,
                    "no pooling, 5×5 C5 + wide F6": small_c5}.items():
    c5_params = profile.count_params([m for m in model.modules() if isinstance(m, nn.Conv2d)][-1])  # C5: the last conv
    print(f"{name:29s} {profile.count_params(model):10,d} parameters (C5 {c5_params:9,d}), "
          f"{profile.count_flops(model, (1, 1, 32, 32)) / 1e6:5.2f} MFLOPs per digit")

# %%
no_pool, no_pool_history = run(lambda: lenet_like(pool=None, c5_kernel=24), "nopool")
print(f"test accuracy: LeNet-5 {history.last['val_acc']:.2%}, without pooling {no_pool_history.last['val_acc']:.2%}")
cfg.expect(no_pool_history.last["val_acc"] >= 0.9, "LeNet-5 without pooling should still learn the digits")

# %% [markdown]
# C5's input grows from 400 to 9,216 values, so C5 alone grows from 48,120 to 1,106,040 parameters (18× the whole
# of LeNet-5), and the network does several times the computation, in C3, which now runs on the 28×28 map, and in
# the big C5. The
# accuracy does not suffer on these digits (the printed numbers): they are small, centred and all drawn alike, so
# the tolerance to shifts that pooling buys is barely needed, and the extra parameters have little to over-fit on
# in a short run. What pooling saves is cost — and on larger images (ImageNet) there is no alternative to shrinking
# the maps.

# %% [markdown]
# ## Exercise 2
#
# Replace average pooling by max pooling. Does it train faster? Compare the curves with `plot_history`.

# %%
max_lenet, max_history = run(lambda: lenet_like(pool="max"), "max")
print(f"{'epoch':>5s} {'avg: train loss':>15s} {'test acc':>9s} {'max: train loss':>16s} {'test acc':>9s}")
for epoch, (la, aa, lm, am) in enumerate(zip(history["train_loss"], history["val_acc"], max_history["train_loss"],
                                             max_history["val_acc"]), start=1):
    print(f"{epoch:5d} {la:15.3f} {aa:9.2%} {lm:16.3f} {am:9.2%}")
cfg.expect(max_history.last["val_acc"] >= 0.9, "LeNet-5 with max pooling should learn the digits too")

# %%
fig = plot.plot_history({"average pooling (LeNet-5)": history, "max pooling": max_history},
                        title="LeNet-5 with average or max pooling")
plt.show()

# %% [markdown]
# Slightly at most: max pooling's training loss is a little lower at every epoch, but the curves lie almost on top
# of each other and the final test accuracies differ by a digit or two of the test set (the printed table), which
# is within what another seed would change. Both networks have the same
# parameters; max pooling passes the gradient to one pixel per window instead of spreading it, and keeps the
# strongest response instead of the average, but after a tanh convolution of small, clean digits both keep enough.
# Max pooling won later, in deeper networks on natural images (AlexNet, VGG), where a feature's presence matters
# more than its average strength — and it costs no more.

# %% [markdown]
# ## Exercise 3
#
# Build the paper's sparse C3 (a 6→16 convolution whose weights are masked by the connection table) and check that
# it has 1,516 parameters.
#
# The paper's Table I: the first six C3 maps read three neighbouring S2 maps, the next six four neighbouring ones,
# the next three four non-neighbouring ones, and the last reads all six (wrapping around from map 5 to map 0).
# The mask multiplies the weights in every forward pass, so a masked weight never affects the output and its
# gradient is always zero: it is not a parameter in any useful sense.

# %%
C3_TABLE = (
    [[(j + i) % 6 for i in range(3)] for j in range(6)]  # maps 0-5: three neighbouring S2 maps
    + [[(j + i) % 6 for i in range(4)] for j in range(6)]  # maps 6-11: four neighbouring
    + [[0, 1, 3, 4], [1, 2, 4, 5], [0, 2, 3, 5]]  # maps 12-14: four, not neighbouring
    + [list(range(6))]  # map 15: all six
)


class SparseC3(nn.Conv2d):
    """A 6→16 5×5 convolution whose output map j only reads the S2 maps ``C3_TABLE[j]``."""

    def __init__(self, table: list[list[int]] = C3_TABLE) -> None:
        super().__init__(6, 16, 5)
        mask = torch.zeros(16, 6, 1, 1)
        for out, inputs in enumerate(table):
            mask[out, inputs] = 1.0
        self.register_buffer("mask", mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias)

    def effective_params(self) -> int:
        """Weights the mask lets through, plus one bias per output map."""
        return int(self.mask.sum()) * 5 * 5 + self.bias.numel()


# %%
# NBVAL_CHECK_OUTPUT
c3 = SparseC3()
print("the connection table (rows: S2 maps, columns: C3 maps 0-15)")
for s2 in range(6):
    print(f"  S2 map {s2}: " + " ".join("X" if c3.mask[j, s2] else "." for j in range(16)))
print(f"S2 maps read per C3 map: {[int(c3.mask[j].sum()) for j in range(16)]}")
print(f"parameters: {int(c3.mask.sum())} connections x 25 weights + 16 biases = {c3.effective_params():,d}; "
      f"equal to 1,516: {c3.effective_params() == 1516} "
      f"(a dense C3 has {profile.count_params(nn.Conv2d(6, 16, 5)):,d})")
x = torch.randn(2, 6, 14, 14, requires_grad=True)
out = c3(x)
out[:, 0].sum().backward()  # C3 map 0 reads S2 maps 0, 1, 2 only
print(f"output {tuple(out.shape)}; map 0 depends on S2 maps "
      f"{[s for s in range(6) if x.grad[:, s].abs().sum() > 0]}")
c3.zero_grad()
c3(x).sum().backward()
print(f"masked weights get zero gradient: {bool((c3.weight.grad * (1 - c3.mask)).abs().max() == 0)}")
assert c3.effective_params() == 1516

# %% [markdown]
# 60 of the 96 map-to-map connections remain, each a 5×5 kernel: 60·25 + 16 = 1,516 parameters instead of 2,416, and
# 151,600 connections instead of 241,600. The paper gave two reasons: less computation on the machines of 1998, and
# broken symmetry — maps that read different inputs are pushed to learn different features. Modern networks get the
# same kind of saving from *grouped* convolutions (AlexNet's two towers, ResNeXt), which use a regular pattern that
# hardware can run fast instead of a hand-made table.

# %% [markdown]
# ## Exercise 4
#
# Train on MNIST without the 2-pixel padding by changing C5's kernel to 4×4. Does the padding matter?
#
# On a 28×28 input the maps are 24 (C1), 12 (S2), 8 (C3) and 4 (S4), so a 4×4 C5 again sees its whole input.
# Full mode compares MNIST's 28×28 digits with the same digits padded to 32×32 (what chapter 03 trains on). Tiny
# mode makes the same comparison with scikit-learn's digits: scaled to 28×28, and those images padded by 2 pixels.

# %%
if cfg.full:
    unpadded = (data.mnist(cfg.data_dir, train=True, size=28), data.mnist(cfg.data_dir, train=False, size=28))
    padded = (train_set, test_set)  # MNIST padded to 32×32, as in the chapter
else:
    unpadded = data.digits(size=28, seed=cfg.seed)

    def pad2(dataset: TensorDataset) -> TensorDataset:
        images, labels = dataset.tensors
        return TensorDataset(F.pad(images, (2, 2, 2, 2)), labels)

    padded = (pad2(unpadded[0]), pad2(unpadded[1]))
print(f"unpadded {tuple(unpadded[0][0][0].shape)}, padded {tuple(padded[0][0][0].shape)}")
_, unpadded_history = run(lambda: lenet_like(c5_kernel=4), "unpadded", *unpadded)
_, padded_history = run(lenet_like, "padded", *padded)
print(f"test accuracy: 28×28 with a 4×4 C5 {unpadded_history.last['val_acc']:.2%}, "
      f"padded to 32×32 (LeNet-5) {padded_history.last['val_acc']:.2%}")
cfg.expect(min(unpadded_history.last["val_acc"], padded_history.last["val_acc"]) >= 0.9,
           "both variants should learn the digits")

# %%
fig = plot.plot_history({"28×28, 4×4 C5": unpadded_history, "padded to 32×32": padded_history},
                        title="LeNet-5 with and without the 2-pixel padding")
plt.show()

# %% [markdown]
# Very little: in tiny mode the two accuracies differ by under a point, a few test digits (the printed numbers). The
# paper padded so that strokes at the edge of the digit fall in the middle of C1's 5×5 windows, where more than one
# window sees them; without padding, a border pixel is seen by a single C1 position. On digits that already have a
# margin (MNIST's are centred in a 20×20 box of the 28×28 image) or that are drawn large and smooth (the scaled-up
# scikit-learn digits), little happens at the very edge, so the padding buys little. It matters more when objects
# touch the image border, which is why later networks pad every convolution.

# %% [markdown]
# ## Exercise 5
#
# Look at the C1 feature maps of a misclassified digit. Can you see which strokes misled the network?
#
# We take the test digits the chapter's network (trained above) gets wrong and show the first one with its six C1
# maps, next to a correctly recognised digit of the class it was mistaken for. Looking is subjective, so we also
# *measure* which strokes misled the network: blank out each 4×4 patch of the digit in turn (set it to the black
# background) and see how much the margin of the wrong class over the true one drops (occlusion).

# %%
lenet = lenet.cpu().eval()
logits, targets = train.predict(lenet, data.loaders(train_set, test_set, batch_size=256, seed=0)[1], device="cpu")
preds = logits.argmax(1)
wrong = torch.nonzero(preds != targets).flatten().tolist()
print(f"{len(wrong)} of {len(targets)} test digits misclassified")
cfg.expect(len(wrong) > 0, "there should be at least one misclassified digit to look at")

# %%
index = wrong[0]
digit, true = test_set[index][0], int(targets[index])
predicted = int(preds[index])
same_class = [i for i in range(len(test_set)) if int(targets[i]) == predicted]
example = next((i for i in same_class if int(preds[i]) == predicted), same_class[0])  # a correct one if there is one
with torch.no_grad():
    c1_wrong = lenet.act1(lenet.c1(digit[None]))[0]
    c1_example = lenet.act1(lenet.c1(test_set[example][0][None]))[0]
fig, axes = plt.subplots(2, 7, figsize=(14, 4.4))
for row, (image, maps, title) in enumerate([(digit, c1_wrong, f"a {true}, read as {predicted}"),
                                            (test_set[example][0], c1_example, f"a {predicted}, read correctly")]):
    axes[row, 0].imshow(image[0], cmap="gray")
    axes[row, 0].set_title(title, fontsize=9)
    for k in range(6):
        axes[row, k + 1].imshow(maps[k], cmap="RdBu_r", vmin=-1, vmax=1)
        axes[row, k + 1].set_title(f"C1 map {k}", fontsize=9)
for ax in axes.flat:
    ax.axis("off")
fig.suptitle("C1 feature maps (tanh outputs, red > 0 > blue, 28×28 each) of a misclassified digit and of a "
             "correct one of the class it was taken for")
fig.tight_layout()
plt.show()
assert c1_wrong.shape == (6, 28, 28)


# %%
def occlusion(model: nn.Module, image: torch.Tensor, true: int, predicted: int, patch: int = 4, step: int = 2):
    """Drop of the margin (score of ``predicted`` - score of ``true``) when each patch is set to 0 (background)."""
    corners = [(i, j) for i in range(0, 32 - patch + 1, step) for j in range(0, 32 - patch + 1, step)]
    batch = image.repeat(len(corners) + 1, 1, 1, 1)
    for k, (i, j) in enumerate(corners, start=1):
        batch[k, :, i : i + patch, j : j + patch] = 0.0
    with torch.no_grad():
        scores = model(batch)
    margin = scores[:, predicted] - scores[:, true]
    drop = torch.zeros(32, 32)
    counts = torch.zeros(32, 32)
    for k, (i, j) in enumerate(corners, start=1):
        drop[i : i + patch, j : j + patch] += margin[0] - margin[k]
        counts[i : i + patch, j : j + patch] += 1
    best = int((margin[0] - margin[1:]).argmax()) + 1
    return drop / counts, int(scores[best].argmax()), corners[best - 1]


drop, _, (bi, bj) = occlusion(lenet, digit, true, predicted)
fig, axes = plt.subplots(1, 2, figsize=(7, 3.3))
axes[0].imshow(digit[0], cmap="gray")
axes[0].add_patch(plt.Rectangle((bj - 0.5, bi - 0.5), 4, 4, fill=False, edgecolor="red", lw=2))
axes[0].set_title(f"a {true}, read as {predicted}\n(red: the most misleading 4×4 patch)", fontsize=9)
shown = axes[1].imshow(drop, cmap="RdBu_r", vmin=-abs(drop).max(), vmax=abs(drop).max())
axes[1].set_title("drop of the wrong margin when erased\n(red: these strokes support the wrong class)", fontsize=9)
fig.colorbar(shown, ax=axes[1], label="margin drop (logit units)")
for ax in axes:
    ax.set_xlabel("x (pixels)")
axes[0].set_ylabel("y (pixels)")
fig.tight_layout()
plt.show()

flipped = []
for i in wrong:
    _, after, _ = occlusion(lenet, test_set[i][0], int(targets[i]), int(preds[i]))
    flipped.append(after == int(targets[i]))
print(f"erasing the single most misleading 4×4 patch makes the network read the true digit in {sum(flipped)} of "
      f"{len(wrong)} mistakes")
cfg.expect(sum(flipped) >= len(wrong) / 2, "most mistakes should hinge on one small part of the digit")

# %% [markdown]
# In the C1 maps the misclassified digit's strokes light up the same edge detectors as the correct digit of the class
# it was taken for, at similar places — C1 only reports oriented stroke pieces, and the mistake is made by the later
# layers that combine them. The occlusion map says which pieces: the red regions are strokes that pushed the network
# towards the wrong class (in the stored tiny-mode run, the left side of the 9's loop, which looks like the upright
# stroke of a 5), the blue ones strokes that spoke for the true class. Most mistakes hinge on one small region:
# erasing a single 4×4 patch turns most of them into the right answer (the printed count), so the network was misled
# by a local detail, not by the digit as a whole.
