"""Datasets: the handwritten digits scikit-learn ships (tiny mode), MNIST and CIFAR-10 (full mode), k-shot subsets,
and BiT's fine-tuning preprocessing and batches (`bit_transforms`, `resampled_loader`).

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
from torch.utils.data import DataLoader, Dataset, RandomSampler, Subset, TensorDataset

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
    from sklearn.model_selection import train_test_split

    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction}")
    raw = load_digits()
    x = torch.tensor(raw.images, dtype=torch.float32).unsqueeze(1) / 16.0
    if size != 8:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False).clamp_(0, 1)
    y = torch.tensor(raw.target, dtype=torch.long)
    train_idx, test_idx = train_test_split(
        np.arange(len(y)), test_size=test_fraction, stratify=raw.target, random_state=seed
    )
    train_idx, test_idx = torch.from_numpy(np.sort(train_idx)), torch.from_numpy(np.sort(test_idx))
    return TensorDataset(x[train_idx], y[train_idx]), TensorDataset(x[test_idx], y[test_idx])


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
    """CIFAR-10 through torchvision. ``verify=False`` skips the MD5 check of files already on disk.

    The files are Python pickles, and unpickling can run code. With the MD5 check they are known to be the official
    files; without it they are read by `_SafeUnpickler`, which builds dicts, lists, strings and NumPy arrays only.
    """
    from torchvision import datasets

    root = Path(root) if root is not None else data_dir()
    folder = root / datasets.CIFAR10.base_folder
    names = [f for f, _ in datasets.CIFAR10.train_list + datasets.CIFAR10.test_list] + [datasets.CIFAR10.meta["filename"]]
    expected = [folder / f for f in names]
    cls = datasets.CIFAR10 if verify else _unverified_cifar10(expected)
    try:
        return cls(str(root), train=train, transform=transform, download=download)
    except (OSError, RuntimeError, pickle.UnpicklingError) as err:
        raise DataUnavailableError(
            _missing_message("CIFAR-10", [p for p in expected if not p.exists()], folder, err)
        ) from err


class _SafeUnpickler(pickle.Unpickler):
    """Unpickles plain data and NumPy arrays only: any other global (a function to call, a class) is refused."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: a data file should only hold arrays")
        return super().find_class(module, name)


def _safe_unpickle(path: Path) -> dict:
    with open(path, "rb") as f:
        return _SafeUnpickler(f, encoding="latin1").load()


def _unverified_cifar10(expected: Sequence[Path]) -> type:
    """torchvision's CIFAR-10 with the MD5 checks replaced by presence checks and every pickle read safely."""
    from torchvision import datasets

    class UnverifiedCIFAR10(datasets.CIFAR10):
        def __init__(self, root: str, train: bool = True, transform=None, download: bool = False) -> None:
            datasets.VisionDataset.__init__(self, root, transform=transform)
            self.train = train
            if download:
                self.download()
            if not self._check_integrity():
                raise RuntimeError("Dataset not found or corrupted.")
            folder = Path(root) / self.base_folder
            entries = [_safe_unpickle(folder / name) for name, _ in (self.train_list if train else self.test_list)]
            self.data = np.vstack([e["data"] for e in entries]).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
            self.targets = [int(t) for e in entries for t in e.get("labels", e.get("fine_labels", []))]
            self._load_meta()

        def _check_integrity(self) -> bool:
            return all(p.exists() for p in expected)

        def _load_meta(self) -> None:
            meta = _safe_unpickle(Path(self.root) / self.base_folder / self.meta["filename"])
            self.classes = meta[self.meta["key"]]
            self.class_to_idx = {c: i for i, c in enumerate(self.classes)}

    return UnverifiedCIFAR10


def handwritten_digits(settings: Settings, root: str | Path | None = None) -> tuple[Dataset, Dataset]:
    """Train and test sets of 1×32×32 digits: scikit-learn's in tiny mode, MNIST in full mode."""
    if settings.tiny:
        return digits(size=32, seed=settings.seed)
    root = root if root is not None else settings.data_dir
    return mnist(root, train=True), mnist(root, train=False)


DIGIT_NAMES = [str(d) for d in range(10)]


def small_images(
    settings: Settings, augment: bool = False, root: str | Path | None = None
) -> tuple[Dataset, Dataset, list[str]]:
    """The chapters' small-image data: CIFAR-10 in full mode, the 1×32×32 handwritten digits in tiny mode.

    Returns the training set, the test set and the class names. ``augment=True`` adds the standard CIFAR-10
    augmentation to the full-mode training set (random 32×32 crops of the image padded by 4 pixels, and horizontal
    flips); the digits are never flipped (a mirrored 2 is no digit) and are left as they are.
    """
    if settings.tiny:
        return (*digits(size=32, seed=settings.seed), list(DIGIT_NAMES))
    from torchvision import transforms

    root = root if root is not None else settings.data_dir
    plain = transforms.ToTensor()
    train_tf = (
        transforms.Compose([transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip(), plain])
        if augment
        else plain
    )
    train = cifar10(root, train=True, transform=train_tf)
    return train, cifar10(root, train=False, transform=plain), list(train.classes)


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
    train: Dataset,
    test: Dataset,
    batch_size: int = 64,
    seed: int = 0,
    num_workers: int = 0,
    device: str | torch.device | None = None,
):
    """A shuffled (seeded) training loader and an ordered test loader.

    With ``device`` the data is held on that device as one tensor and augmented there per batch, exactly as the
    datasets' transforms say (`cnncourse.pipeline.TensorLoader`: much faster on a GPU); without it, PyTorch
    ``DataLoader``s run the transforms image by image on the CPU.
    """
    if device is not None:
        from . import pipeline

        return pipeline.loaders(train, test, batch_size, seed=seed, device=device)
    gen = torch.Generator().manual_seed(seed)
    pin = torch.cuda.is_available()
    return (
        DataLoader(train, batch_size, shuffle=True, generator=gen, num_workers=num_workers, pin_memory=pin),
        DataLoader(test, batch_size, shuffle=False, num_workers=num_workers, pin_memory=pin),
    )


# --- BiT fine-tuning (chapter 13) --------------------------------------------------------------------------------

BIT_MEAN = BIT_STD = (0.5, 0.5, 0.5)  # BiT's weights expect pixels in [-1, 1]


def bit_transforms(resize: int = 160, crop: int = 128):
    """BiT's preprocessing of RGB images as torchvision transforms, ``(train, test)`` (its fine-tuning code's).

    Training: resize to ``resize``×``resize`` (bilinear), a random ``crop``×``crop`` crop, a horizontal flip with
    probability 1/2; test: resize to ``crop``×``crop``. Both end with pixels scaled to [-1, 1]. The BiT-HyperRule
    picks 160 → 128 for images smaller than 96×96 pixels (`cnncourse.train.bit_hyperrule`).
    """
    from torchvision import transforms as T

    if not 0 < crop <= resize:
        raise ValueError(f"need 0 < crop <= resize, got crop={crop}, resize={resize}")
    bilinear = T.InterpolationMode.BILINEAR
    scale = [T.ToTensor(), T.Normalize(BIT_MEAN, BIT_STD)]
    train = T.Compose([T.Resize((resize, resize), bilinear), T.RandomCrop(crop), T.RandomHorizontalFlip(), *scale])
    return train, T.Compose([T.Resize((crop, crop), bilinear), *scale])


def resampled_loader(
    dataset: Dataset, batch_size: int, batches: int, seed: int = 0, num_workers: int = 0
) -> DataLoader:
    """``batches`` batches of ``batch_size`` examples drawn uniformly *with replacement* from ``dataset``.

    For a training set smaller than a batch, where "epoch" means nothing: BiT fine-tunes on the 50 images of 5-shot
    CIFAR-10 with batches of 512. One pass over the loader is ``batches`` batches (a `cnncourse.train.fit` epoch).
    The draws come from the loader's seeded ``generator``, which `fit`'s checkpoints save.
    """
    if batch_size < 1 or batches < 1:
        raise ValueError(f"need batch_size >= 1 and batches >= 1, got {batch_size} and {batches}")
    gen = torch.Generator().manual_seed(seed)
    sampler = RandomSampler(dataset, replacement=True, num_samples=batch_size * batches, generator=gen)
    return DataLoader(dataset, batch_size, sampler=sampler, generator=gen, num_workers=num_workers,
                      pin_memory=torch.cuda.is_available())
