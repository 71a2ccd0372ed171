"""Datasets: the handwritten digits scikit-learn ships (tiny mode), MNIST and CIFAR-10 (full mode), k-shot subsets.

Tiny mode never touches the network: its data comes from files that an installed package carries. Full mode uses
torchvision's datasets, cached under the course's data directory; when the files are missing and cannot be
downloaded, `DataUnavailableError` says which file, where it was expected, and how to switch to tiny mode.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, Subset, TensorDataset

from .config import MODE_ENV, Settings, data_dir


class DataUnavailableError(RuntimeError):
    """A dataset is not on disk and could not be downloaded."""


def _missing_message(name: str, missing: Sequence[Path], directory: Path, cause: BaseException | None) -> str:
    why = f" ({type(cause).__name__}: {cause})" if cause else ""
    if missing:
        files = "\n".join(f"  - {p.name}" for p in missing)
        problem = f"these files are missing from {directory}\n{files}\nand downloading them failed{why}."
    else:
        problem = f"its files in {directory} failed to load{why}; they may be corrupted or incomplete (delete them)."
    return (
        f"{name} is not available: {problem}\n"
        f"Fix: connect to the internet and run again (the files are cached there), or copy them into {directory}, "
        f"or set {MODE_ENV}=tiny to use the small datasets that ship with scikit-learn."
    )


# --- tiny mode -------------------------------------------------------------------------------------------------

def digits(size: int = 32, test_fraction: float = 0.25, seed: int = 0) -> tuple[TensorDataset, TensorDataset]:
    """scikit-learn's 1,797 real handwritten digits (8×8, 0–16) as ``1×size×size`` tensors in [0, 1].

    The split is stratified (same share of every digit in both parts) and seeded.
    """
    from sklearn.datasets import load_digits

    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction}")
    raw = load_digits()
    x = torch.tensor(raw.images, dtype=torch.float32).unsqueeze(1) / 16.0
    if size != 8:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False).clamp_(0, 1)
    y = torch.tensor(raw.target, dtype=torch.long)
    rng = np.random.default_rng(seed)
    test_idx = []
    for c in range(10):
        idx = np.flatnonzero(raw.target == c)
        test_idx.extend(rng.choice(idx, size=round(len(idx) * test_fraction), replace=False))
    is_test = np.zeros(len(y), dtype=bool)
    is_test[test_idx] = True
    train, test = torch.from_numpy(~is_test), torch.from_numpy(is_test)
    return TensorDataset(x[train], y[train]), TensorDataset(x[test], y[test])


def sample_image(name: str = "china.jpg") -> np.ndarray:
    """One of the two colour photos scikit-learn ships (``china.jpg``, ``flower.jpg``), as H×W×3 uint8."""
    from sklearn.datasets import load_sample_image

    names = ("china.jpg", "flower.jpg")
    if name not in names:
        raise ValueError(f"unknown sample image {name!r}; scikit-learn ships {', '.join(names)}")
    return load_sample_image(name)


# --- full mode -------------------------------------------------------------------------------------------------

def mnist(root: str | Path | None = None, train: bool = True, download: bool = True, size: int = 32) -> Dataset:
    """MNIST through torchvision, zero-padded from 28×28 to ``size``×``size`` (LeNet-5 expects 32×32)."""
    from torchvision import datasets, transforms

    if size < 28 or (size - 28) % 2:
        raise ValueError(f"size must be 28 plus an even number of padding pixels, got {size}")
    root = Path(root) if root is not None else data_dir()
    transform = transforms.Compose([transforms.ToTensor(), transforms.Pad((size - 28) // 2)])
    raw = root / "MNIST" / "raw"
    expected = [raw / Path(f).name.removesuffix(".gz") for f, _ in datasets.MNIST.resources]
    try:
        return datasets.MNIST(str(root), train=train, transform=transform, download=download)
    except (OSError, RuntimeError) as err:
        raise DataUnavailableError(
            _missing_message("MNIST", [p for p in expected if not p.exists()], raw, err)
        ) from err


def cifar10(
    root: str | Path | None = None,
    train: bool = True,
    transform=None,
    download: bool = True,
    verify: bool = True,
) -> Dataset:
    """CIFAR-10 through torchvision. ``verify=False`` skips the MD5 check of files already on disk."""
    from torchvision import datasets

    root = Path(root) if root is not None else data_dir()
    folder = root / datasets.CIFAR10.base_folder
    names = [f for f, _ in datasets.CIFAR10.train_list + datasets.CIFAR10.test_list] + [datasets.CIFAR10.meta["filename"]]
    expected = [folder / f for f in names]
    cls = datasets.CIFAR10
    if not verify:

        class cls(datasets.CIFAR10):  # type: ignore[no-redef]
            """torchvision's CIFAR-10 with the MD5 checks replaced by presence checks."""

            def _check_integrity(self) -> bool:
                return all(p.exists() for p in expected)

            def _load_meta(self) -> None:
                with open(folder / self.meta["filename"], "rb") as f:
                    self.classes = pickle.load(f, encoding="latin1")[self.meta["key"]]
                self.class_to_idx = {c: i for i, c in enumerate(self.classes)}

    try:
        return cls(str(root), train=train, transform=transform, download=download)
    except (OSError, RuntimeError) as err:
        raise DataUnavailableError(
            _missing_message("CIFAR-10", [p for p in expected if not p.exists()], folder, err)
        ) from err


def handwritten_digits(settings: Settings, root: str | Path | None = None) -> tuple[Dataset, Dataset]:
    """Train and test sets of 1×32×32 digits: scikit-learn's in tiny mode, MNIST in full mode."""
    if settings.tiny:
        return digits(size=32, seed=settings.seed)
    root = root if root is not None else settings.data_dir
    return mnist(root, train=True), mnist(root, train=False)


# --- subsets and loaders ---------------------------------------------------------------------------------------

def targets(dataset: Dataset) -> torch.Tensor:
    """The label of every example, without loading images where the dataset keeps labels apart."""
    if isinstance(dataset, Subset):
        return targets(dataset.dataset)[torch.as_tensor(dataset.indices, dtype=torch.long)]
    if isinstance(dataset, TensorDataset):
        return dataset.tensors[1]
    labels = getattr(dataset, "targets", None)
    if labels is not None:
        return torch.as_tensor(labels)
    return torch.tensor([int(dataset[i][1]) for i in range(len(dataset))])  # type: ignore[arg-type]


def k_shot(dataset: Dataset, k: int, seed: int = 0) -> Subset:
    """A seeded subset with exactly ``k`` examples of every class."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    labels = targets(dataset)
    gen = torch.Generator().manual_seed(seed)
    chosen = []
    for c in labels.unique().tolist():
        idx = torch.nonzero(labels == c).flatten()
        if len(idx) < k:
            raise ValueError(f"class {c} has only {len(idx)} examples, fewer than k={k}")
        chosen.append(idx[torch.randperm(len(idx), generator=gen)[:k]])
    return Subset(dataset, torch.cat(chosen).tolist())


def loaders(
    train: Dataset, test: Dataset, batch_size: int = 64, seed: int = 0, num_workers: int = 0
) -> tuple[DataLoader, DataLoader]:
    """A shuffled (seeded) training loader and an ordered test loader."""
    gen = torch.Generator().manual_seed(seed)
    pin = torch.cuda.is_available()
    return (
        DataLoader(train, batch_size, shuffle=True, generator=gen, num_workers=num_workers, pin_memory=pin),
        DataLoader(test, batch_size, shuffle=False, num_workers=num_workers, pin_memory=pin),
    )
