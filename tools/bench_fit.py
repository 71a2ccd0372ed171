"""Time per epoch: `cnncourse.train.fit` against a bare PyTorch loop on the same model and data.

    python tools/bench_fit.py [--images 10000] [--epochs 2] [--repeats 3] [--device cpu|cuda]

Both train the same small CNN with SGD on the same CIFAR-10-shaped data from the tensor pipeline; the bare loop
is forward, loss, backward, step and nothing else. The ratio is fit's overhead (history, schedule, checks, the
end-of-epoch read-back). On a GPU it also prints images/s of fit with and without AMP and channels_last. Takes the
fastest of ``--repeats`` alternating runs, so that other programs disturb it less. A measurement, not a test.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from cnncourse import pipeline, train


def small_cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 128, 3, padding=1), nn.BatchNorm2d(128), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
        nn.Flatten(), nn.Linear(128, 10),
    )


def bare_loop(model, loader, epochs: int, device: torch.device) -> None:
    model.to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for _ in range(epochs):
        model.train()
        for x, y in loader:
            loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()


def with_fit(model, loader, epochs: int, device: torch.device, **kwargs) -> None:
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    train.fit(model, loader, epochs, optimizer=opt, device=device, progress=False, verbose=False, **kwargs)


def seconds(fn, device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (args.images, 3, 32, 32), dtype=torch.uint8, generator=gen)
    labels = torch.randint(0, 10, (args.images,), generator=gen)
    loader = pipeline.TensorLoader(images, labels, 128, shuffle=True, device=device,
                                   augment=pipeline.Augment(crop_padding=4, flip=True))
    plain = dict(amp=False, channels_last=False)
    with_fit(small_cnn(), loader, 1, device, **plain)  # warm-up
    bare, fitted = [], []
    for _ in range(args.repeats):
        bare.append(seconds(lambda: bare_loop(small_cnn(), loader, args.epochs, device), device))
        fitted.append(seconds(lambda: with_fit(small_cnn(), loader, args.epochs, device, **plain), device))
    n = args.images * args.epochs
    print(f"device: {device} ({torch.get_num_threads()} CPU threads)")
    print(f"bare PyTorch loop: {n / min(bare):10,.0f} images/s")
    print(f"train.fit:         {n / min(fitted):10,.0f} images/s")
    print(f"fit / bare time:   {min(fitted) / min(bare):10.3f}")
    if device.type == "cuda":
        for amp, cl in ((True, False), (False, True), (True, True)):
            t = min(seconds(lambda: with_fit(small_cnn(), loader, args.epochs, device, amp=amp, channels_last=cl), device)
                    for _ in range(args.repeats))
            print(f"train.fit amp={amp!s:5} channels_last={cl!s:5}: {n / t:10,.0f} images/s")


if __name__ == "__main__":
    main()
