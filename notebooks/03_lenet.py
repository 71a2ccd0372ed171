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
# # 03 · LeNet-5: the first trained CNN, on real handwritten digits
#
# [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/cnncourse/cnncourse/blob/main/notebooks/03_lenet.ipynb)
#
# In 1998 LeCun, Bottou, Bengio and Haffner published *Gradient-based learning applied to document recognition*,
# with LeNet-5: a network that read handwritten digits (bank cheques, ZIP codes) by combining the three ideas of
# chapters 01–02 — local receptive fields, shared weights and sub-sampling (pooling). Fully-connected networks
# had too many parameters, ignored the 2-D structure of the image, and were thrown off by the small shifts and
# distortions every handwriting has. This notebook builds LeNet-5, traces its shapes, trains it on real
# handwritten digits, and looks inside: its learned filters, its feature maps and its mistakes.

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

import cnncourse
from cnncourse import data, plot, profile, results, train
from cnncourse.models import lenet5
from cnncourse.models.lenet import LeNet5

warnings.filterwarnings("ignore", category=UserWarning)
cfg = cnncourse.setup(seed=0)

# %% [markdown]
# ## The architecture
#
# LeNet-5 has seven layers with weights or pooling, named in the paper by type and position: **C** for
# convolution, **S** for sub-sampling, **F** for fully connected.
#
# | layer | what it does | output |
# |---|---|---|
# | input | a 32×32 grey image | 1×32×32 |
# | C1 | 6 filters of 5×5 | 6×28×28 |
# | S2 | 2×2 average pooling, stride 2 | 6×14×14 |
# | C3 | 16 filters of 5×5 over all 6 maps | 16×10×10 |
# | S4 | 2×2 average pooling, stride 2 | 16×5×5 |
# | C5 | 120 filters of 5×5: each sees the whole 5×5 map | 120×1×1 |
# | F6 | fully connected | 84 |
# | output | fully connected, one score per class | 10 |
#
# MNIST digits are 28×28, but LeNet-5 takes 32×32: the 2-pixel border lets strokes near the edge of a digit sit
# in the *centre* of C1's receptive fields, where the detectors of corners and stroke ends work best. The
# course's version, `cnncourse.models.lenet5`, is a `nn.Sequential` with the paper's layer names:

# %%
print(inspect.getsource(LeNet5.__init__))

# %% [markdown]
# **tanh, not ReLU.** We use tanh between layers, as the original did (it used a scaled tanh,
# $1.7159\tanh(2x/3)$) and as the textbook version does. Chapter 02 measured why tanh is safe here: its slope
# is 1 around 0, so gradients do not vanish, and LeNet-5 is only 5 layers deep. ReLU made the difference for
# deeper networks (chapter 04); `lenet5(activation="relu")` builds that variant, and we train both below.
#
# Each layer's output shape, traced by running a batch of 4 blank images through the layers one at a time:

# %%
# NBVAL_CHECK_OUTPUT
model = lenet5()
x = torch.zeros(4, 1, 32, 32)
print(f"{'input':8s} {tuple(x.shape)}")
for name, layer in model.named_children():
    x = layer(x)
    params = profile.count_params(layer)
    print(f"{name:8s} {str(tuple(x.shape)):18s} {type(layer).__name__:10s} {params:7,d} parameters")

# %% [markdown]
# The same as a torchinfo summary (`cnncourse.profile.summary`), which also counts the multiply-adds:

# %%
# NBVAL_CHECK_OUTPUT
print(profile.summary(lenet5(), (1, 1, 32, 32)))
n_params = profile.count_params(model)
print(f"parameters: {n_params:,}; equal to 61,706: {n_params == 61_706}")

# %% [markdown]
# Where they come from: C1 has $6 \cdot (5\cdot5\cdot1 + 1) = 156$, C3 $16 \cdot (5\cdot5\cdot6 + 1) = 2{,}416$,
# C5 $120 \cdot (5\cdot5\cdot16 + 1) = 48{,}120$ — the largest layer — F6 $84 \cdot 121 = 10{,}164$, and the
# output $10 \cdot 85 = 850$.
#
# **The original was a little different.** The paper's S2/S4 multiplied each pooled sum by a trainable
# coefficient and added a trainable bias (2 parameters per map); its C3 connected each of the 16 maps to only 3,
# 4 or 6 of S2's 6 maps (to save computation and break symmetry); and its output layer compared F6 with 10 fixed
# bitmaps (RBF units) instead of learning weights. The paper's totals, recomputed — 60,000 trainable parameters
# and 340,908 connections (weighted sums a forward pass computes, counted per output unit):

# %%
# NBVAL_CHECK_OUTPUT
c3_inputs = 6 * [3] + 9 * [4] + 1 * [6]  # the paper's C3 table: how many S2 maps each of the 16 maps reads
layers = {  # name: (trainable parameters, connections)
    "C1": (6 * 26, 28 * 28 * 6 * 26),
    "S2": (6 * 2, 14 * 14 * 6 * (4 + 1)),  # 4 inputs + bias per unit
    "C3": (sum(25 * k + 1 for k in c3_inputs), 10 * 10 * sum(25 * k + 1 for k in c3_inputs)),
    "S4": (16 * 2, 5 * 5 * 16 * (4 + 1)),
    "C5": (120 * (400 + 1), 120 * (400 + 1)),
    "F6": (84 * 121, 84 * 121),
    "output (RBF, fixed)": (0, 10 * 84),
}
for name, (p, c) in layers.items():
    print(f"{name:20s} {p:7,d} parameters {c:9,d} connections")
total_p, total_c = sum(p for p, _ in layers.values()), sum(c for _, c in layers.values())
print(f"{'total':20s} {total_p:7,d} parameters {total_c:9,d} connections")

# %% [markdown]
# Weight sharing is visible in the table: C1 has 156 parameters but 122,304 connections, because the same 156
# numbers are reused at all 28×28 positions. The connections, not the parameters, are what costs computation.
#
# The model refuses inputs it cannot handle, with a message that says what to do (unpadded MNIST is the usual
# mistake):

# %%
# NBVAL_CHECK_OUTPUT
try:
    model(torch.zeros(1, 1, 28, 28))
except ValueError as err:
    print("ValueError:", err)

# %% [markdown]
# ## The data
#
# `data.handwritten_digits(cfg)` returns real handwritten digits as 1×32×32 images in [0, 1]. In **tiny** mode
# they are the 1,797 digits that ship with scikit-learn (8×8 images, scaled up to 32×32) with a
# stratified 75/25 split; in **full** mode MNIST's 60,000 + 10,000 digits, padded from 28×28 to 32×32. The same
# code below runs on both; `cfg.pick` chooses the batch size and number of epochs. `data.loaders(...,
# device=cfg.device)` keeps the whole dataset as one tensor on the device the model trains on and cuts batches
# from it there (`cnncourse.pipeline`), so a GPU never waits for the CPU to prepare images.

# %%
train_set, test_set = data.handwritten_digits(cfg)
print(f"{cfg.mode} mode: {len(train_set):,} training and {len(test_set):,} test digits")
batch_size = cfg.pick(tiny=32, full=128)
EPOCHS = {"tiny": 8, "full": 10, "paper": 20}  # full mode: 10 epochs in class, 20 (LeCun et al.'s passes) for "paper"
epochs = cfg.pick(**EPOCHS)
train_loader, test_loader = data.loaders(train_set, test_set, batch_size=batch_size, seed=cfg.seed, device=cfg.device)
images, labels = next(iter(train_loader))
print("one batch:", tuple(images.shape), "labels", tuple(labels.shape))
fig = plot.show_images(images[:16], labels=labels[:16].tolist(), ncols=16, title="Training digits with their labels")
plt.show()

# %% [markdown]
# ## Training
#
# Plain SGD with momentum 0.9, learning rate 0.05 decayed to 0 along a cosine over all steps, cross-entropy loss
# (`cnncourse.train.fit`), for the number of epochs printed above. This is our recipe, not the paper's: LeCun et
# al. trained for about 20 passes over the data with a per-weight learning rate from a diagonal estimate of the
# curvature (a "stochastic diagonal Levenberg-Marquardt" method) that decreased in steps. Full mode runs 10
# epochs of our recipe, enough for MNIST; with `CNNCOURSE_SCHEDULE=paper` it runs the paper's 20 passes, still with
# SGD. What that costs on a GPU, estimated from LeNet-5's FLOPs (`profile.estimate_minutes`, whose assumptions
# the README states):

# %%
# NBVAL_CHECK_OUTPUT
with torch.device("meta"):
    lenet_shape = lenet5()  # shapes only: counting its FLOPs costs nothing
estimated = {
    schedule: 2 * profile.estimate_minutes(lenet_shape, (1, 32, 32), images=60_000, epochs=EPOCHS[key],
                                           batch_size=128, eval_images=10_000)  # two runs: tanh and ReLU
    for schedule, key in (("class", "full"), ("paper", "paper"))
}
for schedule, minutes in estimated.items():
    print(f"full mode, {schedule} schedule: {EPOCHS['full' if schedule == 'class' else 'paper']} epochs per run, "
          f"about {minutes:.1f} GPU minutes for both runs")

# %% [markdown]
# In full mode every run saves a checkpoint after each epoch (`cfg.checkpoint`, under the data folder): if the
# kernel stops, running the cell again continues where it stopped. In tiny mode this is a few seconds on a CPU.

# %%
torch.manual_seed(cfg.seed)
model = lenet5()
history = train.fit(model, train_loader, epochs, val_loader=test_loader, lr=0.05, schedule="cosine", device=cfg.device,
                    checkpoint=cfg.checkpoint("03_lenet-tanh"))
result = train.evaluate(model, test_loader, device=cfg.device)
print(f"test accuracy: {result['acc']:.2%} on {len(test_set):,} digits never seen in training")
cfg.expect(result["acc"] >= 0.95, "LeNet-5 should recognise at least 95% of the test digits")

# %% [markdown]
# For comparison, the ReLU variant with the same data order, optimiser and schedule:

# %%
torch.manual_seed(cfg.seed)
relu_model = lenet5(activation="relu")
train_loader_relu, _ = data.loaders(train_set, test_set, batch_size=batch_size, seed=cfg.seed, device=cfg.device)
relu_history = train.fit(relu_model, train_loader_relu, epochs, val_loader=test_loader, lr=0.05, schedule="cosine",
                         device=cfg.device, verbose=False, checkpoint=cfg.checkpoint("03_lenet-relu"))
print(f"test accuracy: tanh {history.last['val_acc']:.2%}, ReLU {relu_history.last['val_acc']:.2%}")
cfg.expect(relu_history.last["val_acc"] >= 0.9, "the ReLU variant should reach 90% too")

# %%
fig = plot.plot_history({"tanh": history, "ReLU": relu_history}, title="LeNet-5 on handwritten digits")
plt.show()

# %% [markdown]
# Both variants end up recognising nearly all test digits (the accuracies printed above); the curves show how
# fast each gets there. At this depth the choice of activation matters much less than it will for the deep
# networks of chapters 04–10.
#
# ## What C1 learned
#
# C1's six 5×5 filters, after training (red: positive weights, blue: negative). Compare them with chapter 01's
# hand-made kernels: look for a positive band next to a negative one, the signature of an oriented edge or
# stroke detector. Nobody designed these; gradient descent found them from the labels alone.

# %%
model = model.cpu().eval()
fig = plot.plot_filters(model.c1.weight, ncols=6, title="LeNet-5 C1: the six learned 5×5 filters", size=1.6)
plt.show()

# %% [markdown]
# ## Feature maps of one digit
#
# Running one test digit through the network and keeping the activations after C1 and after C3 shows what
# those filters respond to: C1's maps are the digit's strokes seen through six edge detectors (28×28); C3's
# sixteen 10×10 maps combine them into coarser, more abstract parts.

# %%
digit, label = test_set[0]
with torch.no_grad():
    c1_maps = model.act1(model.c1(digit[None]))
    c3_maps = model.act3(model.c3(model.s2(c1_maps)))
fig, ax = plt.subplots(figsize=(2, 2))
ax.imshow(digit[0], cmap="gray")
ax.set_title(f"input: a {label}")
ax.axis("off")
plt.show()
fig = plot.plot_feature_maps(c1_maps, ncols=6, title="after C1 + tanh: 6 maps of 28×28", size=1.6, cmap="RdBu_r")
plt.show()
fig = plot.plot_feature_maps(c3_maps, ncols=8, title="after C3 + tanh: 16 maps of 10×10", size=1.3, cmap="RdBu_r")
plt.show()

# %% [markdown]
# ## Where it goes wrong
#
# The confusion matrix counts, for every true digit (row), what the network predicted (column); everything off
# the diagonal is a mistake.

# %%
logits, targets = train.predict(model, test_loader, device="cpu")
preds = logits.argmax(1)
fig = plot.plot_confusion_matrix(targets, preds, class_names=[str(d) for d in range(10)],
                                 title=f"LeNet-5 (tanh) on the {len(targets):,} test digits")
plt.show()
wrong = torch.nonzero(preds != targets).flatten()
print(f"{len(wrong)} of {len(targets):,} test digits misclassified")

# %%
shown = wrong[:16]
if len(shown):
    test_images = torch.stack([test_set[i][0] for i in shown.tolist()])
    fig = plot.show_images(test_images, labels=[f"{targets[i]}→{preds[i]}" for i in shown.tolist()], ncols=8,
                           title="Misclassified test digits (true → predicted)")
    plt.show()

# %% [markdown]
# Look at them before blaming the network: some are ambiguous even to a person, others are plain errors that
# more training data would fix. In full mode the same code trains on MNIST's 60,000 digits; compare its confusion
# matrix with this one.

# %% [markdown]
# The chapter's headline numbers go into the course's results ledger (`results/<mode>/03_lenet.json`), from which
# the README's results tables are made:

# %%
_ = results.record(
    cfg, "03_lenet",
    {"parameters": profile.count_params(model), "test accuracy, tanh (%)": 100 * history.last["val_acc"],
     "test accuracy, ReLU (%)": 100 * relu_history.last["val_acc"], "misclassified test digits (tanh)": len(wrong)},
    references={"parameters": "60,000 (the paper's trainable parameters, sparse C3 and RBF output)"},
    estimated_minutes=estimated,
)

# %% [markdown]
# ## Exercises
#
# Worked solutions: [solutions/03_lenet.ipynb](solutions/03_lenet.ipynb) [![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/cnncourse/cnncourse/blob/main/notebooks/solutions/03_lenet.ipynb)
#
# 1. Remove S2 and S4 (use stride-1 convolutions throughout). What happens to C5's input size, the number of
#    parameters, and the accuracy?
# 2. Replace average pooling by max pooling. Does it train faster? Compare the curves with `plot_history`.
# 3. Build the paper's sparse C3 (a 6→16 convolution whose weights are masked by the connection table) and check
#    that it has 1,516 parameters.
# 4. Train on MNIST without the 2-pixel padding by changing C5's kernel to 4×4. Does the padding matter?
# 5. Look at the C1 feature maps of a misclassified digit. Can you see which strokes misled the network?
