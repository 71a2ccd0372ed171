import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from cnncourse import plot  # noqa: E402
from cnncourse.train import History  # noqa: E402


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

@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _images(fig: plt.Figure) -> int:
    return sum(len(ax.images) for ax in fig.axes)


def test_plot_filters_one_image_per_filter():
    fig = plot.plot_filters(torch.randn(6, 1, 5, 5), ncols=3, title="C1")
    assert _images(fig) == 6 and fig._suptitle.get_text() == "C1"
    assert _images(plot.plot_filters(np.random.rand(4, 3, 3, 3))) == 4
    with pytest.raises(ValueError, match="C = 1 or 3"):
        plot.plot_filters(torch.randn(4, 2, 3, 3))


def test_plot_feature_maps_accepts_batch_of_one():
    assert _images(plot.plot_feature_maps(torch.randn(1, 16, 10, 10))) == 16
    assert _images(plot.plot_feature_maps(np.zeros((5, 4, 4)), ncols=8)) == 5
    with pytest.raises(ValueError, match="C×H×W"):
        plot.plot_feature_maps(torch.randn(2, 3, 4, 4))


def test_plot_activation_functions_draws_function_and_derivative():
    fig = plot.plot_activation_functions({"sigmoid": torch.sigmoid, "relu": torch.relu})
    assert len(fig.axes) == 2
    assert all(len(ax.lines) >= 2 for ax in fig.axes)
    assert "0.25" in fig.axes[0].get_title()  # the largest slope of the sigmoid is 1/4
    assert fig.axes[0].get_xlabel() and fig.axes[0].get_ylabel()


def test_confusion_matrix_counts():
    m = plot.confusion_matrix([0, 1, 1, 2, 2, 2], torch.tensor([0, 1, 2, 2, 2, 0]), 3)
    np.testing.assert_array_equal(m, [[1, 0, 0], [0, 1, 1], [1, 0, 2]])
    assert m.sum() == 6
    with pytest.raises(ValueError, match="0 … 2"):
        plot.confusion_matrix([0, 3], [0, 1], 3)
    with pytest.raises(ValueError, match="2 labels but 1 predictions"):
        plot.confusion_matrix([0, 1], [0], 3)


def test_plot_confusion_matrix_title_and_labels():
    fig = plot.plot_confusion_matrix([0, 1, 1], [0, 1, 0], class_names=["a", "b"])
    ax = fig.axes[0]
    assert "3 examples" in ax.get_title() and "66.7%" in ax.get_title()
    assert ax.get_xlabel() == "predicted class" and ax.get_ylabel() == "true class"


def test_plot_top_classes_shows_the_k_most_probable():
    probs = torch.tensor([0.05, 0.5, 0.1, 0.3, 0.05])
    fig = plot.plot_top_classes(np.zeros((8, 8, 3), np.uint8), probs, list("abcde"), "top 3", k=3)
    bars = fig.axes[1]
    assert [t.get_text() for t in bars.get_yticklabels()] == ["c", "d", "b"]  # most probable at the top
    assert [round(p.get_width()) for p in bars.patches] == [10, 30, 50]
    assert bars.get_title() == "top 3" and bars.get_xlabel() == "predicted probability (%)"
    with pytest.raises(ValueError, match="5 probabilities for 4 categories"):
        plot.plot_top_classes(np.zeros((8, 8, 3)), probs, list("abcd"), "x")
