"""What chapter 13 adds to training: the BiT-HyperRule, MixUp in `fit`, and BiT's batches drawn with replacement."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torch.utils.data import TensorDataset

from cnncourse import data, train

# BiT's repository, bit_hyperrule.py: get_schedule(dataset_size) -> [warm-up, drop, drop, drop, end],
# get_resolution(H, W) -> (resize, crop), get_mixup(dataset_size) -> alpha
REPOSITORY_TABLE = {
    "small": ([100, 200, 300, 400, 500], 0.0),
    "medium": ([500, 3000, 6000, 9000, 10_000], 0.1),
    "large": ([500, 6000, 12_000, 18_000, 20_000], 0.1),
}


@pytest.mark.parametrize(("size", "kind"), [(1, "small"), (50, "small"), (19_999, "small"), (20_000, "medium"),
                                            (50_000, "medium"), (499_999, "medium"), (500_000, "large"),
                                            (1_281_167, "large")])
def test_hyperrule_schedule_and_mixup_follow_the_table(size, kind):
    supports, alpha = REPOSITORY_TABLE[kind]
    rule = train.bit_hyperrule(size, (32, 32))
    assert [rule.warmup_steps, *rule.milestones, rule.steps] == supports
    assert rule.mixup_alpha == alpha
    assert (rule.lr, rule.batch_size) == (0.003, 512)


@pytest.mark.parametrize(("image", "expected"), [((32, 32), (160, 128)), ((95, 97), (160, 128)), (96, (512, 480)),
                                                 ((224, 224), (512, 480)), ((64, 200), (512, 480))])
def test_hyperrule_resolution_depends_on_the_image_area(image, expected):
    rule = train.bit_hyperrule(1000, image)
    assert (rule.resize, rule.crop) == expected


def test_hyperrule_schedule_is_the_colabs_warm_up_and_stairs():
    """BiT's colab: lr = 0.003·s/100 for s < 100, then 3e-3, 3e-4 from 200, 3e-5 from 300, 3e-6 from 400."""
    rule = train.bit_hyperrule(50, 32)
    lr = [rule.lr * rule.schedule()(s) for s in range(rule.steps)]
    assert lr[0] == 0 and lr[50] == pytest.approx(0.0015) and lr[99] == pytest.approx(0.00297)
    for start, end, value in [(100, 200, 3e-3), (200, 300, 3e-4), (300, 400, 3e-5), (400, 500, 3e-6)]:
        assert lr[start:end] == pytest.approx([value] * (end - start))
    with pytest.raises(ValueError, match="positive"):
        train.bit_hyperrule(0, 32)


def test_mixup_blends_each_image_with_a_partner_of_the_batch():
    x = torch.arange(8.0).view(8, 1) * torch.ones(8, 3)
    y = torch.arange(8)
    torch.manual_seed(0)
    mixed, partner, lam = train.mixup(x, y, 0.4)
    assert 0 <= lam <= 1 and sorted(partner.tolist()) == list(range(8))
    torch.testing.assert_close(mixed, lam * x + (1 - lam) * x[partner])  # row i of x has value i, like its label
    torch.manual_seed(0)
    assert train.mixup(x, y, 0.4)[2] == lam  # seeded by torch's generator
    lams = [train.mixup(x, y, 0.1)[2] for _ in range(200)]
    assert sum(min(v, 1 - v) < 0.05 for v in lams) > 100  # α = 0.1: λ mostly close to 0 or 1 (mild mixing)


def test_fit_with_mixup_trains_on_the_mixed_loss():
    """One step at lr 0: the recorded loss is λ·CE(out, y) + (1 − λ)·CE(out, y[perm]) on the blended batch."""
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(16, 5, generator=gen), torch.randint(0, 3, (16,), generator=gen)
    model = nn.Linear(5, 3)
    torch.manual_seed(1)
    history = train.fit(model, [(x, y)], 1, lr=0.0, mixup_alpha=0.4, device="cpu", verbose=False)
    torch.manual_seed(1)
    mixed, partner, lam = train.mixup(x, y, 0.4)
    with torch.no_grad():
        out = model(mixed)
        expected = lam * F.cross_entropy(out, y) + (1 - lam) * F.cross_entropy(out, partner)
        plain = F.cross_entropy(model(x), y)
    assert history.steps[0]["loss"] == pytest.approx(float(expected), rel=1e-6)
    assert abs(float(expected) - float(plain)) > 1e-3
    plain_history = train.fit(model, [(x, y)], 1, lr=0.0, device="cpu", verbose=False)
    assert plain_history.steps[0]["loss"] == pytest.approx(float(plain), rel=1e-6)
    with pytest.raises(ValueError, match="mixup_alpha"):
        train.fit(model, [(x, y)], 1, mixup_alpha=-1, device="cpu")


def test_fit_with_mixup_still_learns_digits():
    train_set, test_set = data.digits(size=8, seed=0)
    train_loader, test_loader = data.loaders(train_set, test_set, batch_size=64, seed=0)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    history = train.fit(model, train_loader, 6, val_loader=test_loader, lr=0.1, mixup_alpha=0.1, device="cpu",
                        verbose=False)
    assert history.last["val_acc"] > 0.9


# --- BiT's batches -------------------------------------------------------------------------------------------------

def test_resampled_loader_draws_with_replacement_and_is_seeded():
    ds = TensorDataset(torch.arange(5.0).view(5, 1), torch.arange(5))
    loader = data.resampled_loader(ds, batch_size=16, batches=3, seed=0)
    batches = list(loader)
    assert len(loader) == 3 and [len(b[1]) for b in batches] == [16, 16, 16]
    labels = torch.cat([b[1] for b in batches])
    assert set(labels.tolist()) == set(range(5))  # every example, each many times
    assert [b[1].tolist() for b in data.resampled_loader(ds, 16, 3, seed=0)] == [b[1].tolist() for b in batches]
    assert [b[1].tolist() for b in data.resampled_loader(ds, 16, 3, seed=1)] != [b[1].tolist() for b in batches]
    assert [b[1].tolist() for b in loader] != [b[1].tolist() for b in batches]  # a new draw each pass
    assert loader.generator is not None  # what fit's checkpoints save
    with pytest.raises(ValueError, match="batches >= 1"):
        data.resampled_loader(ds, 16, 0)


def test_fit_on_resampled_batches_resumes_to_the_same_weights(tmp_path):
    """Ctrl-C in the third of four epochs, then a fresh start with the same checkpoint: the uninterrupted result."""
    ds = TensorDataset(torch.randn(10, 4, generator=torch.Generator().manual_seed(0)), torch.arange(10) % 2)
    calls = {"n": 0}

    def interrupt_after(n):
        def loss(out, y):
            calls["n"] += 1
            if calls["n"] > n:
                raise KeyboardInterrupt
            return F.cross_entropy(out, y)
        return loss

    def run(seed: int, checkpoint=None, loss_fn=None) -> nn.Module:
        torch.manual_seed(seed)
        model = nn.Linear(4, 2)
        train.fit(model, data.resampled_loader(ds, 8, 3, seed=0), 4, lr=0.1, accum_steps=2, loss_fn=loss_fn,
                  mixup_alpha=0.2, schedule=train.lr_schedule("step", 8, warmup_steps=2, milestones=[4]),
                  checkpoint=checkpoint, device="cpu", verbose=False)
        return model

    straight = run(0)
    with pytest.raises(train.TrainingInterrupted):
        run(0, tmp_path / "run.pt", interrupt_after(7))
    resumed = run(123, tmp_path / "run.pt")  # other initial weights and RNG: all restored from the checkpoint
    assert torch.equal(straight.weight, resumed.weight)


def test_bit_transforms_resize_crop_flip_and_scale_to_plus_minus_one():
    rng = torch.Generator().manual_seed(0)
    pixels = torch.randint(0, 256, (32, 32, 3), dtype=torch.uint8, generator=rng)
    image = Image.fromarray(pixels.numpy())
    train_tf, test_tf = data.bit_transforms(160, 128)
    from torchvision.transforms import functional as TF

    resized = TF.normalize(TF.to_tensor(TF.resize(image, [160, 160])), [0.5] * 3, [0.5] * 3)
    windows = resized.unfold(1, 128, 1).unfold(2, 128, 1)  # 3×33×33×128×128: every 128×128 window
    torch.manual_seed(0)
    flips, offsets = 0, set()
    for _ in range(20):
        out = train_tf(image)
        assert out.shape == (3, 128, 128) and out.min() >= -1 and out.max() <= 1
        found = [(i, j, f) for f, img in ((0, out), (1, out.flip(-1)))
                 for i, j in torch.nonzero((windows[:, :, :, 0, 0] == img[:, 0, 0].view(3, 1, 1)).all(0)).tolist()
                 if torch.equal(windows[:, i, j], img)]
        assert found, "every training image is a (possibly flipped) 128×128 window of the 160×160 resize"
        flips += found[0][2]
        offsets.add(found[0][:2])
    assert 0 < flips < 20 and len(offsets) > 10
    expected = TF.normalize(TF.to_tensor(TF.resize(image, [128, 128])), [0.5] * 3, [0.5] * 3)
    assert torch.equal(test_tf(image), expected)
    with pytest.raises(ValueError, match="crop <= resize"):
        data.bit_transforms(128, 160)
