import pickle
import struct
import urllib.error
import urllib.request

import numpy as np
import pytest
import torch

from cnncourse import config, data


def test_digits_shapes_range_and_split():
    train, test = data.digits(size=32, test_fraction=0.25, seed=0)
    x, y = train.tensors
    assert x.shape[1:] == (1, 32, 32) and x.dtype == torch.float32
    assert 0 <= x.min() and x.max() <= 1
    assert len(train) + len(test) == 1797
    # stratified: every digit is about a quarter test
    for c in range(10):
        n_test, n_all = int((test.tensors[1] == c).sum()), int((y == c).sum() + (test.tensors[1] == c).sum())
        assert abs(n_test - 0.25 * n_all) <= 1


def test_digits_seeded():
    a, _ = data.digits(seed=1)
    b, _ = data.digits(seed=1)
    c, _ = data.digits(seed=2)
    assert torch.equal(a.tensors[1], b.tensors[1]) and not torch.equal(a.tensors[0], c.tensors[0])


def test_digits_native_size_is_unchanged():
    from sklearn.datasets import load_digits

    train, test = data.digits(size=8, test_fraction=0.5)
    raw = torch.tensor(load_digits().images, dtype=torch.float32) / 16
    first = train.tensors[0][0, 0]
    assert any(torch.equal(first, img) for img in raw)


def test_digits_rejects_bad_fraction():
    with pytest.raises(ValueError, match="test_fraction"):
        data.digits(test_fraction=1.0)


def test_k_shot_exactly_k_per_class_and_seeded():
    train, _ = data.digits()
    subset = data.k_shot(train, k=5, seed=3)
    labels = data.targets(subset)
    assert len(subset) == 50 and torch.bincount(labels).tolist() == [5] * 10
    assert subset.indices == data.k_shot(train, k=5, seed=3).indices
    assert subset.indices != data.k_shot(train, k=5, seed=4).indices
    with pytest.raises(ValueError, match="fewer than k=500"):
        data.k_shot(train, k=500)


def test_sample_image():
    img = data.sample_image("flower.jpg")
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
    with pytest.raises(ValueError, match="china.jpg"):
        data.sample_image("cat.png")


# --- full mode: real torchvision loaders on small files written in the real formats ---------------------------

def write_mnist(root, n_train=6, n_test=4):
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    labels = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels[prefix] = rng.integers(0, 10, size=n, dtype=np.uint8)
        # IDX format: big-endian magic (0x0803 images, 0x0801 labels), then the dimensions, then the bytes
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 0x0803, n, 28, 28) + images.tobytes())
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 0x0801, n) + labels[prefix].tobytes())
    return labels


def test_mnist_loads_idx_files_and_pads_to_32(tmp_path):
    labels = write_mnist(tmp_path)
    ds = data.mnist(tmp_path, train=True, download=False)
    x, y = ds[0]
    assert len(ds) == 6 and x.shape == (1, 32, 32) and y == labels["train"][0]
    assert x[0, :2].abs().sum() == 0  # two rows of zero padding
    assert len(data.mnist(tmp_path, train=False, download=False)) == 4


def write_cifar(root, per_batch=3):
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {"data": rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8),
                 "labels": rng.integers(0, 10, size=per_batch).tolist(), "batch_label": name}
        (folder / name).write_bytes(pickle.dumps(batch))
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": names}))
    return folder


def test_cifar10_loads_python_batches(tmp_path):
    write_cifar(tmp_path)
    ds = data.cifar10(tmp_path, train=True, download=False, verify=False)
    assert len(ds) == 15 and ds.classes[0] == "airplane"
    img, label = ds[0]
    assert img.size == (32, 32) and 0 <= label < 10
    assert len(data.cifar10(tmp_path, train=False, download=False, verify=False)) == 3


def test_cifar10_checksum_failure_is_explained(tmp_path):
    folder = write_cifar(tmp_path)
    with pytest.raises(data.DataUnavailableError, match="corrupted") as err:
        data.cifar10(tmp_path, download=False)  # fake files fail torchvision's MD5 check
    assert str(folder) in str(err.value)


@pytest.fixture
def offline(monkeypatch):
    def refuse(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


@pytest.mark.parametrize("loader, missing_file, folder", [
    (data.mnist, "train-images-idx3-ubyte", "MNIST/raw"),
    (data.cifar10, "data_batch_1", "cifar-10-batches-py"),
])
def test_offline_without_files_names_file_folder_and_tiny_mode(tmp_path, offline, capsys, loader, missing_file, folder):
    with pytest.raises(data.DataUnavailableError) as err:
        loader(tmp_path, train=True, download=True)
    message = str(err.value)
    assert missing_file in message
    assert str(tmp_path / folder) in message
    assert f"{config.MODE_ENV}=tiny" in message
    assert "URLError" in message or "Error downloading" in message


def test_handwritten_digits_by_mode(tmp_path, offline, capsys):
    tiny = config.Settings("tiny", torch.device("cpu"), tmp_path, 0)
    train, test = data.handwritten_digits(tiny)
    assert len(train) + len(test) == 1797
    full = config.Settings("full", torch.device("cpu"), tmp_path, 0)
    with pytest.raises(data.DataUnavailableError, match="MNIST"):
        data.handwritten_digits(full)
    write_mnist(tmp_path)
    train, test = data.handwritten_digits(full)
    assert (len(train), len(test)) == (6, 4) and train[0][0].shape == (1, 32, 32)


def test_loaders_shuffle_train_only_and_are_seeded():
    train, test = data.digits(size=8)
    a, t = data.loaders(train, test, batch_size=16, seed=5)
    b, _ = data.loaders(train, test, batch_size=16, seed=5)
    first_a, first_b = next(iter(a))[1], next(iter(b))[1]
    assert torch.equal(first_a, first_b)
    assert not torch.equal(first_a, train.tensors[1][:16])
    assert torch.equal(next(iter(t))[1], test.tensors[1][:16])


def test_digits_split_is_sklearns_stratified_split():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    train, test = data.digits(size=8, test_fraction=0.25, seed=3)
    raw = load_digits()
    _, expected = train_test_split(raw.target, test_size=0.25, stratify=raw.target, random_state=3)
    assert (len(train), len(test)) == (1347, 450)
    assert sorted(test.tensors[1].tolist()) == sorted(expected.tolist())


def test_small_images_by_mode(tmp_path, monkeypatch):
    tiny = config.setup(mode="tiny", verbose=False)
    train, test, names = data.small_images(tiny)
    assert train[0][0].shape == (1, 32, 32) and names == [str(d) for d in range(10)] and len(test) == 450

    write_cifar(tmp_path)
    real_cifar10 = data.cifar10
    monkeypatch.setattr(data, "cifar10", lambda root, train, transform: real_cifar10(
        root, train=train, transform=transform, download=False, verify=False))  # fake files fail the MD5 check
    full = config.setup(mode="full", verbose=False)
    train, test, names = data.small_images(full, augment=True, root=tmp_path)
    assert names[0] == "airplane" and len(train) == 15 and len(test) == 3
    assert train[0][0].shape == (3, 32, 32) and test[0][0].shape == (3, 32, 32)
    kinds = [type(t).__name__ for t in train.transform.transforms]
    assert kinds == ["RandomCrop", "RandomHorizontalFlip", "ToTensor"]
    assert type(test.transform).__name__ == "ToTensor"
    plain, _, _ = data.small_images(full, root=tmp_path)
    assert type(plain.transform).__name__ == "ToTensor"


class _Payload:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned > pwned.txt",))


@pytest.mark.parametrize("victim", ["data_batch_1", "batches.meta"])
def test_unverified_cifar_files_are_never_unpickled_with_code(tmp_path, monkeypatch, victim):
    """Without the MD5 check the files could be anything: they are read by an unpickler that builds data only."""
    monkeypatch.chdir(tmp_path)
    folder = write_cifar(tmp_path)
    (folder / victim).write_bytes(pickle.dumps({"data": _Payload(), "labels": [], "label_names": _Payload()}))
    with pytest.raises(data.DataUnavailableError, match="refusing to load posix.system|refusing to load os.system"):
        data.cifar10(tmp_path, train=True, download=False, verify=False)
    assert not (tmp_path / "pwned.txt").exists()
