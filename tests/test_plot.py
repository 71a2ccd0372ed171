import matplotlib

matplotlib.use("Agg")

import pytest
import torch

from cnncourse import plot
from cnncourse.train import History


def history(offset: float) -> History:
    rows = [{"epoch": e, "train_loss": 1 / e + offset, "train_acc": 0.5 + e / 10, "val_loss": 1.2 / e,
             "val_acc": 0.45 + e / 10} for e in (1, 2, 3)]
    return History(epochs=rows)


def test_plot_history_compares_runs_with_labels_and_units():
    fig = plot.plot_history({"relu": history(0), "tanh": history(0.3)}, title="ReLU vs tanh")
    loss_ax, acc_ax = fig.axes
    assert [l.get_label() for l in loss_ax.get_lines()] == ["relu train", "relu val", "tanh train", "tanh val"]
    assert acc_ax.get_ylabel() == "accuracy (%)" and loss_ax.get_xlabel() == "epoch"
    assert acc_ax.get_lines()[0].get_ydata()[0] == pytest.approx(60.0)  # fractions are shown as percentages
    assert fig._suptitle.get_text() == "ReLU vs tanh"


def test_plot_history_single_run_without_validation():
    h = History(epochs=[{"epoch": 1, "train_loss": 1.0, "train_acc": 0.3}])
    fig = plot.plot_history(h, metrics=("loss",))
    assert [l.get_label() for l in fig.axes[0].get_lines()] == ["train"]


def test_show_images_grid_and_labels():
    images = torch.rand(10, 1, 8, 8)
    fig = plot.show_images(images, labels=list(range(10)), ncols=4, title="digits")
    assert len(fig.axes) == 12  # 3 rows of 4, two left empty
    assert [ax.get_title() for ax in fig.axes[:3]] == ["0", "1", "2"]
    assert fig.axes[0].get_images()[0].get_array().shape == (8, 8)
    rgb = plot.show_images(torch.rand(2, 3, 5, 6))
    assert rgb.axes[0].get_images()[0].get_array().shape == (5, 6, 3)


def test_show_images_errors():
    with pytest.raises(ValueError, match="2 images but 3 labels"):
        plot.show_images(torch.rand(2, 1, 4, 4), labels=[1, 2, 3])
    with pytest.raises(ValueError, match="at least one"):
        plot.show_images([])
