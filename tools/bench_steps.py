"""Measured time per training step of the chapters' full-mode networks, next to `profile.estimate_minutes`' guess.

    python tools/bench_steps.py [--steps 30] [--device cuda]

Each row trains one of the networks full mode trains (on synthetic data of the real shape and batch size: the
numbers do not depend on the pixels) with `train.fit` — SGD, AMP and channels_last on CUDA as in the chapters — and
prints milliseconds per optimizer step, images/s and the achieved training TFLOP/s (3 × forward FLOPs per image),
then the ratio of measured to estimated time, the estimate being `profile.estimate_minutes` for one step (its
`GPU_TRAINING_FLOPS`, `GPU_LAYER_SECONDS` per layer and `GPU_STEP_SECONDS` floor, which these figures calibrate): a
ratio above 1 means the chapters' stated full-mode times are too optimistic.
A measurement, not a test; the first epoch (warm-up: cuDNN autotuning, allocator) is not timed.
"""

from __future__ import annotations

import argparse
import time

import torch

from cnncourse import models, pipeline, profile, train

# (chapter, what, builder, C×H×W, batch size): the networks the chapters train in full mode
RUNS = [

    ("03", "LeNet-5, MNIST", lambda: models.lenet5(), (1, 32, 32), 128),
    ("05", "VGG-11 half width, CIFAR", lambda: models.vgg("A", batch_norm=True, num_classes=10, width=0.5,
                                                         small_input=True, dropout=0.0), (3, 32, 32), 128),
    ("06", "NiN, CIFAR", lambda: models.nin(10, 3), (3, 32, 32), 128),
    ("07", "GoogLeNet (small input), CIFAR", lambda: models.googlenet_small(10, 3, width=1.0, aux_logits=False),
     (3, 32, 32), 128),
    ("10", "ResNet-20, CIFAR", lambda: models.resnet20(), (3, 32, 32), 128),
    ("10", "ResNet-110, CIFAR", lambda: models.resnet110(), (3, 32, 32), 128),
    ("12", "DenseNet-BC-100-12, CIFAR", lambda: models.densenet_bc_100_12(), (3, 32, 32), 64),
    ("13", "BiT-R50x1, 128 px, micro-batch 256", lambda: models.resnetv2_bit("R50x1", 10), (3, 128, 128), 256),
]


def seconds_per_step(build, shape, batch: int, steps: int, device: torch.device) -> float:
    torch.manual_seed(0)
    images = torch.randint(0, 256, (batch * steps, *shape), dtype=torch.uint8)  # N×C×H×W, as the pipeline keeps it
    labels = torch.randint(0, 10, (batch * steps,))
    loader = pipeline.TensorLoader(images, labels, batch_size=batch, shuffle=True, device=device, seed=0)
    model = build()
    train.fit(model, loader, 1, lr=0.01, device=device, progress=False, verbose=False)  # warm-up, not timed
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    train.fit(model, loader, 1, lr=0.01, device=device, progress=False, verbose=False)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / len(loader)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"device: {name}; torch {torch.__version__}; estimate assumes {profile.GPU_TRAINING_FLOPS / 1e12:.0f} "
          f"TFLOP/s + {1e6 * profile.GPU_LAYER_SECONDS:.0f} µs per layer, ≥ {1e3 * profile.GPU_STEP_SECONDS:.0f} ms a step")
    print(f"{'ch':3s} {'network':38s} {'batch':>5s} {'ms/step':>8s} {'images/s':>9s} {'TFLOP/s':>8s} "
          f"{'estimate ms/step':>16s} {'measured/estimate':>17s}")
    for chapter, what, build, shape, batch in RUNS:
        with torch.device("meta"):
            shape_only = build()
        forward = profile.count_flops(shape_only, (1, *shape))
        estimate = 60 * profile.estimate_minutes(shape_only, shape, images=batch, epochs=1, batch_size=batch)
        measured = seconds_per_step(build, shape, batch, args.steps, device)
        print(f"{chapter:3s} {what:38s} {batch:5d} {1e3 * measured:8.2f} {batch / measured:9.0f} "
              f"{3 * forward * batch / measured / 1e12:8.2f} {1e3 * estimate:16.2f} {measured / estimate:17.2f}",
              flush=True)


if __name__ == "__main__":
    main()
