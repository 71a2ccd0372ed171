"""The tensor pipeline reproduces torchvision's transforms exactly, batches like a DataLoader, and resumes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision.transforms as T
import torchvision.transforms.functional as TF
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Subset, TensorDataset

from cnncourse import data, pipeline, train
from test_data import write_cifar, write_mnist

CIFAR_MEAN, CIFAR_STD = (0.49, 0.48, 0.45), (0.25, 0.24, 0.26)
AUGMENT = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(),
                     T.Normalize(CIFAR_MEAN, CIFAR_STD)])


@pytest.fixture
def cifar(tmp_path):
    write_cifar(tmp_path, per_batch=40)
    return data.cifar10(tmp_path, train=True, transform=AUGMENT, download=False, verify=False)


def test_same_draws_give_the_same_pixels_as_torchvision(cifar):
    loader = pipeline.TensorLoader.from_dataset(cifar, 16)
    assert loader.augment == pipeline.Augment(crop_padding=4, crop_size=(32, 32), flip=True, mean=CIFAR_MEAN,
                                              std=CIFAR_STD)
    draws = loader.draw(40)
    assert draws["flip"].any() and not draws["flip"].all() and len(set(draws["top"].tolist())) > 3
    ours = loader.transform(loader.images[:40], draws)
    for k in range(40):  # what RandomCrop and RandomHorizontalFlip do with these draws, step by step
        img = TF.crop(TF.pad(Image.fromarray(cifar.data[k]), 4), int(draws["top"][k]), int(draws["left"][k]), 32, 32)
        img = TF.hflip(img) if draws["flip"][k] else img
        expected = TF.normalize(TF.to_tensor(img), CIFAR_MEAN, CIFAR_STD)
        torch.testing.assert_close(ours[k], expected, rtol=0, atol=1e-6)


def test_an_epoch_has_the_same_pixel_statistics_as_torchvision():
    """Left half bright, right half dark: wrong flips or crop offsets would shift the per-pixel means."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 60, size=(300, 1, 16, 16), dtype=np.uint8)
    images[:, :, :, :6] += 180
    transform = T.Compose([T.RandomCrop(16, padding=3), T.RandomHorizontalFlip(), T.ToTensor()])

    class Reference(torch.utils.data.Dataset):
        def __len__(self):
            return len(images)

        def __getitem__(self, i):
            return transform(Image.fromarray(images[i, 0])), 0

    torch.manual_seed(0)
    ref = torch.stack([x for _ in range(20) for x, _ in DataLoader(Reference(), batch_size=100)]).mean(0)
    loader = pipeline.TensorLoader(torch.from_numpy(images), torch.zeros(300, dtype=torch.long), 100, shuffle=True,
                                   augment=pipeline.augment_from_transform(transform))
    ours = torch.stack([x for _ in range(20) for x, _ in loader]).mean(0)
    assert ref.shape == ours.shape == (3, 1, 16, 16) or ref.shape == ours.shape
    assert (ours.mean(0) - ref.mean(0)).abs().max() < 0.02
    assert abs(float(ours[..., :8].mean() - ours[..., 8:].mean())) < 0.05  # flips balance left and right ...
    plain = torch.from_numpy(images).float().div(255)
    assert float(plain[..., :8].mean() - plain[..., 8:].mean()) > 0.4  # ... which the raw images are far from


def test_batches_like_a_seeded_shuffled_dataloader():
    x, y = torch.rand(50, 1, 4, 4), torch.arange(50)
    loader = pipeline.TensorLoader(x, y, 16, shuffle=True, seed=3)
    batches = list(loader)
    assert len(loader) == len(batches) == 4 and [len(b[1]) for b in batches] == [16, 16, 16, 2]
    labels = torch.cat([b[1] for b in batches])
    assert sorted(labels.tolist()) == list(range(50)) and labels.tolist() != list(range(50))
    for bx, by in batches:
        torch.testing.assert_close(bx, x[by])  # floats in [0, 1] (the digits) pass through unchanged
    assert [b[1].tolist() for b in pipeline.TensorLoader(x, y, 16, shuffle=True, seed=3)] == [
        b[1].tolist() for b in batches]
    assert torch.cat([b[1] for b in loader]).tolist() != labels.tolist()  # a new order every epoch
    assert len(pipeline.TensorLoader(x, y, 16, drop_last=True)) == 3
    ordered = pipeline.TensorLoader(x, y, 16)
    assert torch.cat([b[1] for b in ordered]).tolist() == list(range(50))


def test_mnist_padding_subsets_and_data_loaders(tmp_path):
    write_mnist(tmp_path, n_train=6)
    mnist = data.mnist(tmp_path, train=True, download=False)  # ToTensor + Pad(2): 28×28 -> 32×32
    loader = pipeline.TensorLoader.from_dataset(Subset(mnist, [5, 1, 3]), 8)
    x, y = next(iter(loader))
    assert x.shape == (3, 1, 32, 32) and y.tolist() == [int(mnist.targets[i]) for i in (5, 1, 3)]
    for k, i in enumerate((5, 1, 3)):
        torch.testing.assert_close(x[k], mnist[i][0])
    train_set, test_set = data.digits(size=16)
    tl, vl = data.loaders(train_set, test_set, batch_size=32, seed=0, device="cpu")
    assert isinstance(tl, pipeline.TensorLoader) and tl.shuffle and not vl.shuffle and len(vl) == 15


def test_what_it_cannot_reproduce_is_a_clear_error():
    with pytest.raises(ValueError, match="cannot reproduce the transform ColorJitter.*device=None"):
        pipeline.augment_from_transform(T.Compose([T.ColorJitter(0.1), T.ToTensor()]))
    with pytest.raises(ValueError, match="Normalize must be the last"):
        pipeline.augment_from_transform(T.Compose([T.ToTensor(), T.Normalize([0.5], [0.5]), T.RandomHorizontalFlip()]))
    with pytest.raises(ValueError, match=r"RandomCrop\(24, 24\) must keep the image's size \(32, 32\)"):
        pipeline.TensorLoader(torch.zeros(2, 1, 32, 32, dtype=torch.uint8), torch.zeros(2), 1,
                              augment=pipeline.augment_from_transform(T.RandomCrop(24, padding=2)))
    with pytest.raises(TypeError, match="takes CIFAR-10, MNIST, TensorDataset"):
        pipeline.as_tensors([(torch.zeros(1), 0)])


def test_fit_on_a_tensor_loader_resumes_exactly(tmp_path):
    def setup():
        torch.manual_seed(0)
        images = torch.randint(0, 256, (40, 3, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
        loader = pipeline.TensorLoader(images, torch.arange(40) % 3, 8, shuffle=True, seed=5,
                                       augment=pipeline.Augment(crop_padding=2, flip=True))
        model = nn.Sequential(nn.Flatten(), nn.Linear(192, 3))
        return model, loader, torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

    model, loader, opt = setup()
    reference = train.fit(model, loader, 3, optimizer=opt, device="cpu", verbose=False)
    calls = 0

    def stop_in_epoch_3(out, y):
        nonlocal calls
        calls += 1
        if calls == 12:
            raise KeyboardInterrupt
        return nn.functional.cross_entropy(out, y)

    model2, loader, opt = setup()
    with pytest.raises(KeyboardInterrupt):
        train.fit(model2, loader, 3, optimizer=opt, loss_fn=stop_in_epoch_3, checkpoint=tmp_path / "c.pt",
                  device="cpu", verbose=False)
    model2, loader, opt = setup()
    resumed = train.fit(model2, loader, 3, optimizer=opt, checkpoint=tmp_path / "c.pt", device="cpu", verbose=False)
    assert resumed.steps == reference.steps
    for a, b in zip(model.parameters(), model2.parameters()):
        assert torch.equal(a, b)
