"""A data pipeline for datasets that fit in memory: one tensor on the training device, augmented per batch there.

A `DataLoader` hands every image to torchvision's transforms one at a time, on the CPU, and copies each batch to
the GPU; a small CIFAR network on a GPU then waits for the CPU most of the time. `TensorLoader` keeps the whole
split as one uint8 tensor on the training device (CIFAR-10's 50,000 training images are 150 MB) and applies the
same augmentation to a whole batch at once, where the data already is: random crops of the image padded with
zeros, horizontal flips, scaling to [0, 1] and normalisation.

`TensorLoader.from_dataset` reads a torchvision dataset's own transforms (``ToTensor``, ``Pad``, ``RandomCrop`` with
padding, ``RandomHorizontalFlip``, ``Normalize``) and reproduces them exactly: for the same random draws it gives the
same pixels as the transforms would. The draws come from a seeded CPU generator (a few numbers per image), so the
order, crops and flips are the same on every device, and a checkpoint can save and restore them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset, Subset, TensorDataset


@dataclass(frozen=True)
class Augment:
    """What happens to every batch: padding, random crop (of the unpadded size) and flip, then normalisation."""

    pad: int = 0  # zero padding on every side, kept (torchvision's Pad)
    crop_padding: int = 0  # random crop of the (padded) image's own size from it padded by this much (RandomCrop)
    crop_size: tuple[int, int] | None = None  # RandomCrop's size, which must be the image's size at that point
    flip: bool = False  # random horizontal flip with probability 1/2
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None


def augment_from_transform(transform) -> Augment:
    """The `Augment` equal to a torchvision transform pipeline; a ``ValueError`` for anything it cannot reproduce."""
    from torchvision import transforms as T

    steps = list(transform.transforms) if isinstance(transform, T.Compose) else [] if transform is None else [transform]
    found: dict = {}
    for k, t in enumerate(steps):
        if "mean" in found:
            raise ValueError(f"Normalize must be the last transform for the tensor pipeline, got {steps[k:]!r} after it")
        if isinstance(t, T.ToTensor):
            continue
        if isinstance(t, T.Pad) and isinstance(t.padding, int) and t.fill == 0 and t.padding_mode == "constant":
            found["pad"] = found.get("pad", 0) + t.padding
        elif (isinstance(t, T.RandomCrop) and isinstance(t.padding, int) and t.fill == 0
              and t.padding_mode == "constant" and not t.pad_if_needed):
            found["crop_padding"] = t.padding
            found["crop_size"] = tuple(t.size)
        elif isinstance(t, T.RandomHorizontalFlip) and t.p == 0.5:
            found["flip"] = True
        elif isinstance(t, T.Normalize):
            found["mean"], found["std"] = tuple(map(float, t.mean)), tuple(map(float, t.std))
        else:
            raise ValueError(
                f"the tensor pipeline cannot reproduce the transform {t!r}; it does zero padding, random crops of "
                f"the padded image, horizontal flips and normalisation. Use data.loaders(..., device=None) for a "
                f"DataLoader that applies any transform."
            )
    return Augment(**found)


def as_tensors(dataset: Dataset) -> tuple[torch.Tensor, torch.Tensor, object]:
    """``(images, labels, transform)`` without running the transform: N×C×H×W images, N labels.

    CIFAR-10 and MNIST give their raw uint8 pixels (0–255), a `TensorDataset` its tensors as they are (the digits of
    tiny mode are already floats in [0, 1]); a `Subset` selects its rows.
    """
    from torchvision import datasets

    if isinstance(dataset, Subset):
        images, labels, transform = as_tensors(dataset.dataset)
        index = torch.as_tensor(dataset.indices, dtype=torch.long)
        return images[index], labels[index], transform
    if isinstance(dataset, TensorDataset):
        images, labels = dataset.tensors[:2]
        return images, labels, None
    if isinstance(dataset, datasets.CIFAR10):
        images = torch.from_numpy(np.ascontiguousarray(dataset.data)).permute(0, 3, 1, 2).contiguous()
        return images, torch.as_tensor(dataset.targets, dtype=torch.long), dataset.transform
    if isinstance(dataset, datasets.MNIST):
        return dataset.data.unsqueeze(1), torch.as_tensor(dataset.targets, dtype=torch.long), dataset.transform
    raise TypeError(
        f"the tensor pipeline takes CIFAR-10, MNIST, TensorDataset or a Subset of them, got {type(dataset).__name__}; "
        f"use data.loaders(..., device=None) for a DataLoader"
    )


class TensorLoader:
    """Batches ``(x, y)`` of in-memory images, on ``device``, augmented per batch (see the module docstring).

    Iterating is like a ``DataLoader`` with ``shuffle`` and a seeded generator: each pass draws a new order (and new
    crops and flips) from ``generator``, whose state `cnncourse.train.fit` saves in its checkpoints.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        batch_size: int,
        *,
        shuffle: bool = False,
        augment: Augment | None = None,
        device: str | torch.device = "cpu",
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        if len(images) != len(labels):
            raise ValueError(f"got {len(images)} images but {len(labels)} labels")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.device = torch.device(device)
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.augment = a = augment or Augment()
        channels, self.size = images.shape[1], tuple(s + 2 * a.pad for s in images.shape[-2:])
        if a.crop_size is not None and tuple(a.crop_size) != self.size:
            raise ValueError(f"RandomCrop{tuple(a.crop_size)} must keep the image's size {self.size} for the tensor pipeline")
        # padded once, here, instead of for every batch: Pad's border plus the border random crops may reach into
        self.images = F.pad(images, (a.pad + a.crop_padding,) * 4).to(self.device)
        self.labels = labels.to(self.device)
        self.generator = torch.Generator().manual_seed(seed)
        # scaling to [0, 1] and normalising fused into one multiply-add: x · scale + shift
        mean = torch.tensor(a.mean or [0.0] * channels, device=self.device).view(1, -1, 1, 1)
        std = torch.tensor(a.std or [1.0] * channels, device=self.device).view(1, -1, 1, 1)
        to_unit = 1 / 255 if images.dtype == torch.uint8 else 1.0
        self._scale, self._shift = to_unit / std, -mean / std

    @classmethod
    def from_dataset(cls, dataset: Dataset, batch_size: int, **kwargs) -> TensorLoader:
        """A loader that reproduces ``dataset``'s own torchvision transforms on the device."""
        images, labels, transform = as_tensors(dataset)
        return cls(images, labels, batch_size, augment=augment_from_transform(transform), **kwargs)

    def __len__(self) -> int:
        n = len(self.images)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.images)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            index = order[start : start + self.batch_size]
            draws = self.draw(len(index))
            index = index.to(self.device, non_blocking=True)
            yield self.transform(self.images[index], draws), self.labels[index]

    def draw(self, n: int) -> dict[str, torch.Tensor]:
        """The random numbers one batch of ``n`` images needs: crop offsets (rows, columns) and flips."""
        p = self.augment.crop_padding
        return {
            "top": torch.randint(0, 2 * p + 1, (n,), generator=self.generator) if p else torch.zeros(n, dtype=torch.long),
            "left": torch.randint(0, 2 * p + 1, (n,), generator=self.generator) if p else torch.zeros(n, dtype=torch.long),
            "flip": torch.rand(n, generator=self.generator) < 0.5 if self.augment.flip else torch.zeros(n, dtype=torch.bool),
        }

    def transform(self, x: torch.Tensor, draws: dict[str, torch.Tensor]) -> torch.Tensor:
        """Crop, flip, scale and normalise a batch of stored (padded) images with the given random draws."""
        a = self.augment
        height, width = self.size
        if a.crop_padding:
            x = _crops(x, draws["top"].to(x.device), draws["left"].to(x.device), height, width)
        else:
            x = x[..., a.crop_padding : a.crop_padding + height, a.crop_padding : a.crop_padding + width]
        if a.flip:
            x = torch.where(draws["flip"].to(x.device).view(-1, 1, 1, 1), x.flip(-1), x)
        return torch.addcmul(self._shift, x.float(), self._scale)  # flips and crops ran on the (small) uint8s


def _crops(x: torch.Tensor, top: torch.Tensor, left: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """For every image b of ``x``, the ``height``×``width`` window starting at (top[b], left[b]), by indexing."""
    rows = (top.view(-1, 1) + torch.arange(height, device=x.device)).view(-1, 1, height, 1)
    cols = (left.view(-1, 1) + torch.arange(width, device=x.device)).view(-1, 1, 1, width)
    batch = torch.arange(len(x), device=x.device).view(-1, 1, 1, 1)
    channels = torch.arange(x.shape[1], device=x.device).view(1, -1, 1, 1)
    return x[batch, channels, rows, cols]


def loaders(
    train: Dataset, test: Dataset, batch_size: int, seed: int = 0, device: str | torch.device = "cpu"
) -> tuple[TensorLoader, TensorLoader]:
    """A shuffled, augmented (as ``train``'s transforms say) training loader and an ordered test loader."""
    return (
        TensorLoader.from_dataset(train, batch_size, shuffle=True, device=device, seed=seed),
        TensorLoader.from_dataset(test, batch_size, shuffle=False, device=device, seed=seed),
    )


__all__: Sequence[str] = ["Augment", "TensorLoader", "as_tensors", "augment_from_transform", "loaders"]
