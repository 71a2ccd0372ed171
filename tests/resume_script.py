"""A small seeded training run for tests/test_train.py to start, interrupt and resume in a separate process.

    python tests/resume_script.py OUT.pt [--checkpoint CKPT] [--kill-at-batch N] [--kill-in-save N] [--slow]

Trains a small CNN on scikit-learn's digits for 4 epochs with a cosine schedule, dropout and a shuffled loader
(so the model, optimizer, schedule, and every random state must be restored for a resumed run to match), then saves
the final weights and history (without timings) to OUT.pt.

- ``--kill-at-batch N``: the process kills itself with SIGKILL in the N-th training batch (a real, uncatchable
  interruption, like a crashed machine or an out-of-memory kill);
- ``--kill-in-save N``: it kills itself in the middle of writing the N-th checkpoint;
- ``--slow``: every batch sleeps a little, so that a test can press Ctrl-C (SIGINT) in the middle of training.
"""

from __future__ import annotations

import argparse
import os
import signal
import time

import torch
from torch import nn

from cnncourse import data, train


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--checkpoint")
    parser.add_argument("--kill-at-batch", type=int)
    parser.add_argument("--kill-in-save", type=int)
    parser.add_argument("--slow", action="store_true")
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("--ipykernel", action="store_true", help="import ipykernel first, as a notebook kernel has")
    args = parser.parse_args()
    if args.ipykernel:
        import ipykernel  # noqa: F401

    torch.set_num_threads(1)
    train_set, test_set = data.digits(size=16, seed=0)
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.2),
        nn.Flatten(), nn.Linear(8 * 8 * 8, 10),
    )
    loader, test_loader = data.loaders(train_set, test_set, batch_size=64, seed=0)
    calls = 0

    def loss_fn(out, y):
        nonlocal calls
        calls += 1
        if args.kill_at_batch and calls == args.kill_at_batch:
            os.kill(os.getpid(), signal.SIGKILL)
        if args.slow:
            time.sleep(0.05)
        return nn.functional.cross_entropy(out, y)

    if args.kill_in_save:
        real_save, saves = torch.save, 0

        def dying_save(obj, f):
            nonlocal saves
            saves += 1
            if saves == args.kill_in_save:
                f.write(b"the first bytes of a checkpoint")
                f.flush()
                os.kill(os.getpid(), signal.SIGKILL)
            real_save(obj, f)

        torch.save = dying_save

    history = train.fit(
        model, loader, 4, val_loader=test_loader, lr=0.1, schedule="cosine", loss_fn=loss_fn, device="cpu",
        checkpoint=args.checkpoint, progress=True if args.progress else (None if args.ipykernel else False),
    )
    rows = [{k: v for k, v in row.items() if k != "seconds"} for row in history.epochs]
    torch.save({"model": model.state_dict(), "epochs": rows, "steps": history.steps}, args.out)


if __name__ == "__main__":
    main()
