import math

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from cnncourse import data, train


def small_cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 4 * 4, 10),
    )


@pytest.fixture(scope="module")
def digits16():
    return data.digits(size=16, seed=0)


def test_fit_learns_real_digits(digits16):
    torch.manual_seed(0)
    train_dl, test_dl = data.loaders(*digits16, batch_size=32)
    model = small_cnn()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    hist = train.fit(model, train_dl, epochs=5, val_loader=test_dl, optimizer=opt, device="cpu", verbose=False)
    assert len(hist.epochs) == 5 and len(hist.steps) == 5 * len(train_dl)
    assert hist["train_loss"][-1] < hist["train_loss"][0]
    assert hist.last["val_acc"] >= 0.9
    assert train.evaluate(model, test_dl)["acc"] == pytest.approx(hist.last["val_acc"])


def test_schedules():
    step = train.lr_schedule("step", 100, milestones=[50, 80])
    assert [step(t) for t in (0, 49, 50, 79, 80, 99)] == pytest.approx([1, 1, 0.1, 0.1, 0.01, 0.01])
    cos = train.lr_schedule("cosine", 100, warmup_steps=10)
    assert [cos(0), cos(5), cos(10), cos(55), cos(100)] == pytest.approx([0, 0.5, 1, 0.5, 0], abs=1e-12)
    assert train.lr_schedule("constant", 10)(7) == 1
    with pytest.raises(ValueError, match="unknown schedule"):
        train.lr_schedule("linear", 10)
    with pytest.raises(ValueError, match="milestones"):
        train.lr_schedule("step", 10)


def test_schedule_is_applied_per_optimizer_step():
    x, y = torch.randn(40, 4), torch.randint(0, 2, (40,))
    dl = DataLoader(TensorDataset(x, y), batch_size=10)
    hist = train.fit(nn.Linear(4, 2), dl, epochs=2, lr=1.0, schedule="cosine", device="cpu", verbose=False)
    expected = [0.5 * (1 + math.cos(math.pi * t / 8)) for t in range(8)]
    assert [s["lr"] for s in hist.steps] == pytest.approx(expected)
    assert hist["lr"] == pytest.approx([expected[3], expected[7]])  # per epoch: the LR of its last step


def _deterministic_run(accum_steps: int, batch_size: int) -> nn.Module:
    torch.manual_seed(0)
    x, y = torch.randn(64, 6), torch.randint(0, 3, (64,))
    model = nn.Linear(6, 3)
    dl = DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=False)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    train.fit(model, dl, epochs=2, optimizer=opt, accum_steps=accum_steps, device="cpu", verbose=False)
    return model


def test_gradient_accumulation_equals_a_bigger_batch():
    big = _deterministic_run(accum_steps=1, batch_size=16)
    accumulated = _deterministic_run(accum_steps=2, batch_size=8)
    for a, b in zip(big.parameters(), accumulated.parameters()):
        torch.testing.assert_close(a, b)
    other = _deterministic_run(accum_steps=1, batch_size=8)  # the check can fail: no accumulation differs
    assert not torch.allclose(big.weight, other.weight)


class Interrupt(nn.Module):
    """A loss that presses Ctrl-C after a given number of calls."""

    def __init__(self, after: int):
        super().__init__()
        self.calls, self.after = 0, after

    def forward(self, out, y):
        self.calls += 1
        if self.calls > self.after:
            raise KeyboardInterrupt
        return nn.functional.cross_entropy(out, y)


def _resumable_setup(seed=0):
    data_gen = torch.Generator().manual_seed(7)  # the same data whatever the seed of the model
    ds = TensorDataset(torch.randn(60, 5, generator=data_gen), torch.randint(0, 3, (60,), generator=data_gen))
    torch.manual_seed(seed)
    dl = DataLoader(ds, batch_size=10, shuffle=True, generator=torch.Generator().manual_seed(1))
    model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Dropout(0.2), nn.Linear(8, 3))
    return model, dl, torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)


def test_interrupted_run_resumes_to_the_same_result(tmp_path, capsys):
    model, dl, opt = _resumable_setup()
    reference = train.fit(model, dl, epochs=4, optimizer=opt, schedule="cosine", device="cpu", verbose=False)
    expected = [p.detach().clone() for p in model.parameters()]

    ckpt = tmp_path / "run.pt"
    model, dl, opt = _resumable_setup()
    with pytest.raises(KeyboardInterrupt):  # dies in the middle of epoch 3 (6 batches per epoch)
        train.fit(model, dl, epochs=4, optimizer=opt, schedule="cosine", loss_fn=Interrupt(15), checkpoint=ckpt,
                  device="cpu", verbose=False)
    assert torch.load(ckpt, weights_only=False)["epoch"] == 2
    assert "resume" in capsys.readouterr().out

    model, dl, opt = _resumable_setup(seed=123)  # a fresh start: different init, RNG state restored from the file
    resumed = train.fit(model, dl, epochs=4, optimizer=opt, schedule="cosine", checkpoint=ckpt, device="cpu")
    assert "resuming" in capsys.readouterr().out
    assert [r["epoch"] for r in resumed.epochs] == [1, 2, 3, 4]
    assert resumed["train_loss"] == pytest.approx(reference["train_loss"])
    for a, b in zip(model.parameters(), expected):
        torch.testing.assert_close(a, b)
    assert not (tmp_path / "run.pt.tmp").exists()


def test_finished_checkpoint_trains_nothing(tmp_path):
    model, dl, opt = _resumable_setup()
    train.fit(model, dl, epochs=1, optimizer=opt, checkpoint=tmp_path / "c.pt", device="cpu", verbose=False)
    before = [p.detach().clone() for p in model.parameters()]
    hist = train.fit(model, dl, epochs=1, optimizer=opt, checkpoint=tmp_path / "c.pt", device="cpu", verbose=False)
    assert len(hist.epochs) == 1
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), before))


def test_save_atomic_keeps_old_file_when_writing_fails(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    train.save_atomic({"epoch": 1}, path)

    def broken_save(obj, f):
        open(f, "wb").write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError):
        train.save_atomic({"epoch": 2}, path)
    monkeypatch.undo()
    assert torch.load(path)["epoch"] == 1


def test_diverging_loss_is_reported():
    x, y = torch.randn(20, 3), torch.randint(0, 2, (20,))
    x[0, 0] = float("nan")
    dl = DataLoader(TensorDataset(x, y), batch_size=20)
    with pytest.raises(FloatingPointError, match="learning rate"):
        train.fit(nn.Linear(3, 2), dl, epochs=1, device="cpu", verbose=False)


def test_bad_arguments():
    dl = DataLoader(TensorDataset(torch.randn(4, 3), torch.zeros(4, dtype=torch.long)), batch_size=2)
    with pytest.raises(ValueError, match="accum_steps"):
        train.fit(nn.Linear(3, 2), dl, epochs=1, accum_steps=0)
    empty = DataLoader(TensorDataset(torch.randn(0, 3), torch.zeros(0, dtype=torch.long)), batch_size=2)
    with pytest.raises(ValueError, match="no batches"):
        train.fit(nn.Linear(3, 2), empty, epochs=1)


def test_models_with_auxiliary_outputs_are_scored_on_the_main_head():
    class TwoHeads(nn.Module):
        def __init__(self):
            super().__init__()
            self.main, self.aux = nn.Linear(3, 2), nn.Linear(3, 2)

        def forward(self, x):
            return (self.main(x), self.aux(x)) if self.training else self.main(x)

    model = TwoHeads()
    dl = DataLoader(TensorDataset(torch.randn(8, 3), torch.randint(0, 2, (8,))), batch_size=4)
    loss = lambda out, y: nn.functional.cross_entropy(out[0], y) + 0.3 * nn.functional.cross_entropy(out[1], y)
    hist = train.fit(model, dl, epochs=1, loss_fn=loss, val_loader=dl, device="cpu", verbose=False)
    assert 0 <= hist.last["train_acc"] <= 1 and "val_acc" in hist.last


def test_progress_switch(monkeypatch):
    monkeypatch.setenv("TQDM_DISABLE", "1")
    assert not train.progress_enabled()
    monkeypatch.setenv("TQDM_DISABLE", "0")
    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    assert train.progress_enabled()
