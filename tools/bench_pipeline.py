"""Images per second: the tensor pipeline against a DataLoader with torchvision transforms (issue: full-mode speed).

    python tools/bench_pipeline.py [--images 50000] [--device cpu|cuda]

Both feed the same CIFAR-10-shaped uint8 data (generated here) with the same augmentation — random 32×32 crops of
the image padded by 4, horizontal flips, scaling and normalisation — in batches of 128, for one epoch. Prints one
line per figure. A measurement, not a test: the numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torchvision.transforms as T
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from cnncourse import pipeline

AUGMENT = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(),
                     T.Normalize((0.49, 0.48, 0.45), (0.25, 0.24, 0.26))])


class ArrayImages(Dataset):
    """What torchvision's CIFAR10 does per image: a PIL image from the uint8 array, then the transforms."""

    def __init__(self, data: np.ndarray, labels: np.ndarray) -> None:
        self.data, self.labels = data, labels

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int):
        return AUGMENT(Image.fromarray(self.data[i])), int(self.labels[i])


def images_per_s(loader, device: torch.device) -> float:
    start, n = time.perf_counter(), 0
    for x, y in loader:
        x = x.to(device, non_blocking=True)
        n += len(y)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=50_000)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    args = parser.parse_args()
    device = torch.device(args.device)
    rng = np.random.default_rng(0)
    data = rng.integers(0, 256, size=(args.images, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, size=args.images)
    loader = DataLoader(ArrayImages(data, labels), 128, shuffle=True, num_workers=args.workers,
                        pin_memory=device.type == "cuda")
    tensors = pipeline.TensorLoader(torch.from_numpy(data).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(labels),
                                    128, shuffle=True, device=device, augment=pipeline.augment_from_transform(AUGMENT))
    images_per_s(tensors, device)  # warm-up (the first pass on a GPU compiles kernels)
    slow, fast = images_per_s(loader, device), images_per_s(tensors, device)
    print(f"device: {device} ({torch.get_num_threads()} CPU threads, {args.workers} DataLoader workers)")
    print(f"DataLoader + torchvision transforms: {slow:10,.0f} images/s")
    print(f"tensor pipeline:                     {fast:10,.0f} images/s")
    print(f"speed-up:                            {fast / slow:10.1f}x")


if __name__ == "__main__":
    main()
