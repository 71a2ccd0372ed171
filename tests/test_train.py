import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

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


# --- optimizer: weight decay groups and gradient clipping ---------------------------------------------------------

def test_param_groups_decay_weights_but_not_biases_or_norms():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4, 2))
    decay, no_decay = train.param_groups(model, 0.05)
    assert decay["weight_decay"] == 0.05 and no_decay["weight_decay"] == 0.0
    assert {id(p) for p in decay["params"]} == {id(model[0].weight), id(model[3].weight)}
    assert {id(p) for p in no_decay["params"]} == {id(model[0].bias), id(model[1].weight), id(model[1].bias),
                                                   id(model[3].bias)}


def test_fit_weight_decay_shrinks_weights_only():
    """With a loss whose gradient is 0, only weight decay moves the parameters: weights shrink, the rest stays."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    dl = DataLoader(TensorDataset(torch.randn(8, 3), torch.zeros(8, dtype=torch.long)), batch_size=4)
    zero_loss = lambda out, y: 0.0 * out.sum()
    train.fit(model, dl, epochs=1, lr=0.1, weight_decay=0.5, loss_fn=zero_loss, device="cpu", verbose=False)
    after = model.state_dict()
    # SGD with momentum 0.9: step 1 multiplies by 1 - 0.1·0.5, step 2 subtracts 0.1·(0.5·w1 + 0.9·0.5·w0)
    w0 = before["0.weight"]
    w1 = w0 * (1 - 0.05)
    torch.testing.assert_close(after["0.weight"], w1 - 0.1 * (0.5 * w1 + 0.9 * 0.5 * w0))
    for key in ("0.bias", "1.weight", "1.bias", "2.bias"):
        assert torch.equal(after[key], before[key]), key
    with pytest.raises(ValueError, match="your own optimizer"):
        train.fit(model, dl, 1, optimizer=torch.optim.SGD(model.parameters(), lr=0.1), weight_decay=0.1)


def test_clip_grad_norm_caps_each_step():
    torch.manual_seed(0)
    x, y = torch.randn(16, 5) * 100, torch.randint(0, 3, (16,))
    dl = DataLoader(TensorDataset(x, y), batch_size=16)

    def step_size(clip):
        torch.manual_seed(0)
        model = nn.Linear(5, 3)
        before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
        opt = torch.optim.SGD(model.parameters(), lr=1.0)
        train.fit(model, dl, 1, optimizer=opt, clip_grad_norm=clip, device="cpu", verbose=False)
        return float((torch.cat([p.detach().flatten() for p in model.parameters()]) - before).norm())

    assert step_size(None) > 10  # the gradients of these large inputs are large
    assert step_size(0.5) == pytest.approx(0.5, rel=1e-4)  # one SGD step with lr 1 moves by the clipped norm


# --- checkpoints: resume exactly, refuse what cannot be resumed ---------------------------------------------------

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


def _resumable_setup(seed=0, activation=nn.ReLU):
    data_gen = torch.Generator().manual_seed(7)  # the same data whatever the seed of the model
    ds = TensorDataset(torch.randn(60, 5, generator=data_gen), torch.randint(0, 3, (60,), generator=data_gen))
    torch.manual_seed(seed)
    dl = DataLoader(ds, batch_size=10, shuffle=True, generator=torch.Generator().manual_seed(1))
    model = nn.Sequential(nn.Linear(5, 8), activation(), nn.Dropout(0.2), nn.Linear(8, 3))
    return model, dl, torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)


def test_interrupted_run_resumes_to_the_same_result(tmp_path, capsys):
    model, dl, opt = _resumable_setup()
    reference = train.fit(model, dl, epochs=4, optimizer=opt, schedule="cosine", device="cpu", verbose=False)
    expected = [p.detach().clone() for p in model.parameters()]

    ckpt = tmp_path / "run.pt"
    model, dl, opt = _resumable_setup()
    with pytest.raises(train.TrainingInterrupted) as info:  # Ctrl-C in the middle of epoch 3 (6 batches per epoch)
        train.fit(model, dl, epochs=4, optimizer=opt, schedule="cosine", loss_fn=Interrupt(15), checkpoint=ckpt,
                  device="cpu", verbose=False)
    assert isinstance(info.value, KeyboardInterrupt)
    assert str(info.value) == ("training stopped in epoch 3 of 4; epochs 1–2 are saved in run.pt: "
                               "run fit again with the same checkpoint to resume")
    assert info.value.__suppress_context__  # no second traceback from inside the loop and the optimizer
    assert info.value._render_traceback_() == [f"TrainingInterrupted: {info.value}"]  # all that Jupyter shows
    state = torch.load(ckpt, weights_only=True)  # tensors and plain values only: safe to load
    assert state["epoch"] == 2 and state["fingerprint"]["epochs"] == 4

    model, dl, opt = _resumable_setup(seed=123)  # a fresh start: different init, RNG state restored from the file
    resumed = train.fit(model, dl, epochs=4, optimizer=opt, schedule="cosine", checkpoint=ckpt, device="cpu")
    assert "resuming from run.pt: 2 of 4 epochs already done" in capsys.readouterr().out
    assert [r["epoch"] for r in resumed.epochs] == [1, 2, 3, 4]
    assert resumed["train_loss"] == pytest.approx(reference["train_loss"])
    assert resumed.steps == reference.steps
    for a, b in zip(model.parameters(), expected):
        torch.testing.assert_close(a, b)
    assert not (tmp_path / "run.pt.tmp").exists()


def test_interrupt_without_checkpoint_says_how_to_make_runs_resumable():
    model, dl, opt = _resumable_setup()
    with pytest.raises(train.TrainingInterrupted, match="pass checkpoint= to fit"):
        train.fit(model, dl, epochs=2, optimizer=opt, loss_fn=Interrupt(3), device="cpu", verbose=False)


def test_finished_checkpoint_trains_nothing(tmp_path, capsys):
    model, dl, opt = _resumable_setup()
    train.fit(model, dl, epochs=1, optimizer=opt, checkpoint=tmp_path / "c.pt", device="cpu", verbose=False)
    before = [p.detach().clone() for p in model.parameters()]
    model, dl, opt = _resumable_setup(seed=5)
    hist = train.fit(model, dl, epochs=1, optimizer=opt, checkpoint=tmp_path / "c.pt", device="cpu")
    assert len(hist.epochs) == 1
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), before))  # the finished run's weights
    assert "all 1 epochs already done" in capsys.readouterr().out


def test_a_longer_checkpoint_is_not_trained_or_refused_but_explained(tmp_path, capsys):
    ckpt = tmp_path / "c.pt"
    model, dl, opt = _resumable_setup()
    train.fit(model, dl, epochs=4, optimizer=opt, checkpoint=ckpt, device="cpu", verbose=False)
    model, dl, opt = _resumable_setup()
    hist = train.fit(model, dl, epochs=2, optimizer=opt, checkpoint=ckpt, device="cpu")
    out = capsys.readouterr().out
    assert "already holds a longer run (4 finished epochs) than the 2 asked for" in out and "4 of 2" not in out
    assert len(hist.epochs) == 4
    model, dl, opt = _resumable_setup()  # asking for more epochs changes the schedule of a finished run: refused
    with pytest.raises(train.CheckpointError, match="a 4-epoch run in the checkpoint, 6 in this call"):
        train.fit(model, dl, epochs=6, optimizer=opt, checkpoint=ckpt, device="cpu", verbose=False)


@pytest.mark.parametrize("change, message", [
    ("activation", r"model structure, line 3: '\(1\): ReLU\(\)' in the checkpoint, '\(1\): Tanh\(\)' in this call"),
    ("width", r"model structure, line 2: .*out_features=8.* in the checkpoint, .*out_features=9.* in this call"),
    ("optimizer", r"optimizer: 'SGD' in the checkpoint, 'Adam' in this call"),
    ("batch size", r"optimizer steps per epoch: 6 in the checkpoint, 3 in this call"),
    ("learning rate", r"optimizer settings: .*'lr': 0\.1.* in the checkpoint, .*'lr': 0\.2.* in this call"),
    ("schedule", r"learning-rate multipliers .*: \[1\.0, 0\.5, 0\.007596123494\] in the checkpoint, "
                 r"\[1\.0, 1\.0, 1\.0\] in this call"),
])
def test_a_checkpoint_of_another_run_is_refused_naming_both_sides(tmp_path, change, message):
    ckpt = tmp_path / "other.pt"
    model, dl, opt = _resumable_setup()
    with pytest.raises(KeyboardInterrupt):
        train.fit(model, dl, epochs=3, optimizer=opt, loss_fn=Interrupt(7), checkpoint=ckpt, device="cpu",
                  verbose=False, schedule="cosine")
    model, dl, opt = _resumable_setup(activation=nn.Tanh if change == "activation" else nn.ReLU)
    schedule = "constant" if change == "schedule" else "cosine"
    if change == "width":
        model[0], model[3] = nn.Linear(5, 9), nn.Linear(9, 3)
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    if change == "optimizer":
        opt = torch.optim.Adam(model.parameters())
    if change == "batch size":
        dl = DataLoader(dl.dataset, batch_size=20, shuffle=True, generator=torch.Generator().manual_seed(1))
    if change == "learning rate":
        opt = torch.optim.SGD(model.parameters(), lr=0.2, momentum=0.9)
    with pytest.raises(train.CheckpointError, match=message) as info:
        train.fit(model, dl, epochs=3, optimizer=opt, checkpoint=ckpt, device="cpu", verbose=False, schedule=schedule)
    assert str(ckpt) in str(info.value) and "Delete it" in str(info.value)


@pytest.mark.parametrize("damage", ["truncated", "empty", "not a checkpoint"])
def test_a_corrupt_checkpoint_is_a_clear_error(tmp_path, damage):
    ckpt = tmp_path / "c.pt"
    model, dl, opt = _resumable_setup()
    train.fit(model, dl, epochs=1, optimizer=opt, checkpoint=ckpt, device="cpu", verbose=False)
    raw = ckpt.read_bytes()
    ckpt.write_bytes({"truncated": raw[: len(raw) // 2], "empty": b"", "not a checkpoint": b"hello"}[damage])
    with pytest.raises(train.CheckpointError) as info:
        train.fit(model, dl, epochs=2, optimizer=opt, checkpoint=ckpt, device="cpu", verbose=False)
    message = str(info.value)
    assert str(ckpt) in message and "corrupt" in message and "Delete it" in message and "checkpoint= path" in message
    assert info.value.__cause__ is None and info.value.__context__ is None  # no raw torch traceback below it


class _Payload:
    def __reduce__(self):
        return (os.system, ("echo pwned > pwned.txt",))


def test_a_checkpoint_that_would_run_code_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ckpt = tmp_path / "evil.pt"
    torch.save({"epoch": 1, "model": _Payload()}, ckpt)
    model, dl, opt = _resumable_setup()
    with pytest.raises(train.CheckpointError, match="holds objects other than tensors"):
        train.fit(model, dl, epochs=2, optimizer=opt, checkpoint=ckpt, device="cpu", verbose=False)
    assert not (tmp_path / "pwned.txt").exists()


def test_save_atomic_keeps_old_file_and_removes_the_temporary_one(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    train.save_atomic({"epoch": 1}, path)
    synced = []
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd))
    train.save_atomic({"epoch": 2}, path)
    assert synced, "the new file must be flushed to disk before it replaces the old one"
    for error in (OSError("disk full"), KeyboardInterrupt()):
        def broken_save(obj, f, error=error):
            f.write(b"half a checkpoint")
            raise error

        monkeypatch.setattr(torch, "save", broken_save)
        with pytest.raises(type(error)):
            train.save_atomic({"epoch": 3}, path)
        monkeypatch.undo()
        assert torch.load(path, weights_only=True)["epoch"] == 2
        assert not (tmp_path / "ckpt.pt.tmp").exists()


# --- real interruptions, in another process ----------------------------------------------------------------------

SCRIPT = Path(__file__).with_name("resume_script.py")


def _run_script(*args, check=True, env=None, **popen):
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    proc = subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True,
                          timeout=300, env=env, **popen)
    if check:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def _same_run(a, b):
    a, b = torch.load(a, weights_only=True), torch.load(b, weights_only=True)
    assert a["epochs"] == b["epochs"] and a["steps"] == b["steps"]
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("reference") / "out.pt"
    _run_script(out)
    return out


def test_kill_9_in_training_then_resume_gives_the_uninterrupted_result(tmp_path, uninterrupted):
    ckpt = tmp_path / "run.pt"
    killed = _run_script(tmp_path / "never.pt", "--checkpoint", ckpt, "--kill-at-batch", 50, check=False)
    assert killed.returncode == -signal.SIGKILL  # 22 batches per epoch: killed in epoch 3
    assert torch.load(ckpt, weights_only=True)["epoch"] == 2
    resumed = _run_script(tmp_path / "out.pt", "--checkpoint", ckpt)
    assert "resuming from run.pt: 2 of 4 epochs already done" in resumed.stdout
    _same_run(tmp_path / "out.pt", uninterrupted)


def test_kill_9_while_saving_leaves_the_last_checkpoint_and_no_debris(tmp_path, uninterrupted):
    ckpt = tmp_path / "run.pt"
    killed = _run_script(tmp_path / "never.pt", "--checkpoint", ckpt, "--kill-in-save", 2, check=False)
    assert killed.returncode == -signal.SIGKILL
    assert torch.load(ckpt, weights_only=True)["epoch"] == 1  # the half-written second one never replaced it
    assert (tmp_path / "run.pt.tmp").exists()  # nothing can clean up after kill -9 ...
    _run_script(tmp_path / "out.pt", "--checkpoint", ckpt)
    assert not (tmp_path / "run.pt.tmp").exists()  # ... so the next run does
    _same_run(tmp_path / "out.pt", uninterrupted)


def test_ctrl_c_in_a_terminal_prints_the_hint_not_the_loop(tmp_path):
    proc = subprocess.Popen([sys.executable, str(SCRIPT), tmp_path / "never.pt", "--checkpoint", tmp_path / "c.pt",
                             "--slow"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"},
                            # as from a shell: a pytest-xdist worker ignores SIGINT, and children inherit that
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while not (tmp_path / "c.pt").exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)  # wait until the first epoch is saved, then press Ctrl-C in the second
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0
    assert "run fit again with the same checkpoint to resume" in err
    lines = err.strip().splitlines()
    assert len(lines) <= 10, err  # the script's frames and fit's: nothing from inside the loop or the optimizer
    assert "train_one_epoch" not in err and "optim" not in err and "During handling" not in err


@pytest.mark.parametrize("where", ["terminal", "ipykernel imported"])
def test_progress_bars_do_not_change_the_numbers(tmp_path, uninterrupted, where):
    """The same seeded run with a progress bar gives the same history and weights as without one."""
    env = {k: v for k, v in os.environ.items() if k != "TQDM_DISABLE"}
    flag = "--progress" if where == "terminal" else "--ipykernel"
    proc = subprocess.run([sys.executable, str(SCRIPT), tmp_path / "out.pt", flag], capture_output=True, text=True,
                          timeout=300, env={**env, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "epoch 1/4" in proc.stderr  # a bar was really drawn
    _same_run(tmp_path / "out.pt", uninterrupted)

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
    """The main head always answers class 0 and the auxiliary head class 1: accuracy must be the main head's."""

    class TwoHeads(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(1))  # fit needs a parameter; lr=0 keeps the heads as they are

        def forward(self, x):
            main = torch.tensor([[5.0, 0.0]]).expand(len(x), 2) + self.w
            aux = torch.tensor([[0.0, 5.0]]).expand(len(x), 2) + self.w
            return (main, aux) if self.training else main

    dl = DataLoader(TensorDataset(torch.randn(8, 3), torch.zeros(8, dtype=torch.long)), batch_size=4)
    loss = lambda out, y: nn.functional.cross_entropy(out[0], y) + 0.3 * nn.functional.cross_entropy(out[1], y)
    hist = train.fit(TwoHeads(), dl, epochs=1, lr=0.0, loss_fn=loss, val_loader=dl, device="cpu", verbose=False)
    assert hist.last["train_acc"] == 1.0 and hist.last["val_acc"] == 1.0  # scored on the aux head it would be 0

def test_progress_switch(monkeypatch):
    monkeypatch.setenv("TQDM_DISABLE", "1")
    assert not train.progress_enabled()
    monkeypatch.setenv("TQDM_DISABLE", "0")
    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    assert train.progress_enabled()


# --- speed: no host synchronisation inside an epoch, torch.compile on request -----------------------------------------

def test_an_epoch_reads_from_the_device_only_at_its_end(monkeypatch):
    """Every .item()/.tolist()/.cpu()/int()/float()/bool() of a tensor makes the CPU wait for a GPU; count them."""
    torch.manual_seed(0)
    batches = [(torch.randn(8, 1, 8, 8), torch.randint(0, 3, (8,))) for _ in range(12)]  # no DataLoader involved
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 1.0)
    reads = []
    for name in ("item", "tolist", "cpu", "numpy", "__int__", "__float__", "__bool__"):
        real = getattr(torch.Tensor, name)
        monkeypatch.setattr(torch.Tensor, name, lambda self, *a, _real=real, _name=name, **k: (
            reads.append(_name), _real(self, *a, **k))[1])
    history = train.History()
    row = train.train_one_epoch(model, batches, opt, sched, history, loss_fn=nn.functional.cross_entropy,
                                device=torch.device("cpu"), accum_steps=2, clip_grad_norm=1.0)
    monkeypatch.undo()
    assert sorted(reads) == ["__int__", "tolist"], reads  # the losses and the correct count, once each
    assert len(history.steps) == 6 and 0 <= row["train_acc"] <= 1


def test_a_nan_loss_is_still_caught_and_named(monkeypatch):
    batches = [(torch.randn(4, 3), torch.zeros(4, dtype=torch.long)) for _ in range(5)]
    batches[3][0][0, 0] = float("nan")
    model = nn.Linear(3, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(FloatingPointError, match="loss became nan in batch 4 .*lower the learning rate"):
        train.train_one_epoch(model, batches, opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 1.0),
                              train.History(), loss_fn=nn.functional.cross_entropy, device=torch.device("cpu"))


def test_compile_trains_the_compiled_model_and_saves_plain_weights(monkeypatch, tmp_path):
    real_compile, compiled = torch.compile, []

    def eager_compile(model):  # the default backend would compile C++ for a minute on a CPU; dynamo still runs
        compiled.append(model)
        return real_compile(model, backend="eager")

    monkeypatch.setattr(torch, "compile", eager_compile)
    model, dl, opt = _resumable_setup()
    hist = train.fit(model, dl, 2, optimizer=opt, compile=True, checkpoint=tmp_path / "c.pt", device="cpu",
                     verbose=False)
    assert compiled == [model] and len(hist.epochs) == 2
    reference_model, dl, opt = _resumable_setup()
    reference = train.fit(reference_model, dl, 2, optimizer=opt, device="cpu", verbose=False)
    assert hist["train_loss"] == pytest.approx(reference["train_loss"])
    saved = torch.load(tmp_path / "c.pt", weights_only=True)["model"]
    assert set(saved) == set(model.state_dict())  # no "_orig_mod." prefixes


def test_a_smoke_run_trains_one_epoch_of_a_few_batches(monkeypatch, tmp_path):
    monkeypatch.setenv("CNNCOURSE_SMOKE_STEPS", "2")
    model, dl, opt = _resumable_setup()
    hist = train.fit(model, dl, epochs=5, optimizer=opt, checkpoint=tmp_path / "c.pt", device="cpu", verbose=False)
    assert len(hist.epochs) == 1 and len(hist.steps) == 2
    hist = train.fit(model, dl, epochs=5, optimizer=opt, checkpoint=tmp_path / "c.pt", device="cpu", verbose=False)
    assert len(hist.epochs) == 1  # resumed from the finished smoke run, not retrained
    monkeypatch.setenv("CNNCOURSE_SMOKE_STEPS", "two")
    with pytest.raises(ValueError, match="must be a number of batches"):
        train.fit(model, dl, epochs=1, optimizer=opt, device="cpu", verbose=False)
