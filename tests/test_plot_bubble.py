import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.legend import Legend  # noqa: E402

from cnncourse import plot  # noqa: E402


def _chart(n=25, seed=0, **kwargs):
    rng = np.random.default_rng(seed)
    x, y, sizes = np.exp(rng.uniform(0, 4, n)), rng.uniform(50, 85, n), rng.uniform(1, 140, n)
    labels = [f"model_{i}" for i in range(n)]
    fig = plot.bubble_chart(x, y, sizes, labels, [f"group {i % 4}" for i in range(n)], size_legend=(10, 100),
                            size_unit="M params", xlabel="GFLOPs", ylabel="top-1 (%)", title="t", **kwargs)
    return fig, sizes, labels


def test_every_point_is_labelled_and_no_two_labels_overlap():
    fig, _, labels = _chart()
    ax = fig.axes[0]
    texts = [t for t in ax.texts]
    assert sorted(t.get_text() for t in texts) == sorted(labels)
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in texts]
    frame = ax.get_window_extent(renderer)
    legends = [c.get_window_extent(renderer) for c in ax.get_children() if isinstance(c, Legend)]
    assert len(legends) == 2
    for i, a in enumerate(boxes):
        assert frame.x0 <= a.x0 and a.x1 <= frame.x1 and frame.y0 <= a.y0 and a.y1 <= frame.y1
        assert all(plot._overlap(a, b) == 0 for b in boxes[i + 1:] + legends)


def test_bubble_area_is_proportional_to_size():
    fig, sizes, _ = _chart(n=12, max_radius=30)
    ax = fig.axes[0]
    areas = np.concatenate([c.get_sizes() for c in ax.collections if len(c.get_offsets())])
    order = np.concatenate([[i for i in range(12) if i % 4 == g] for g in range(4)])
    big = sizes[order] / sizes.max() * (2 * 30) ** 2
    visible = big > 36  # above the 3-point minimum radius
    assert np.allclose(areas[visible], big[visible])
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "GFLOPs" and ax.get_title() == "t"


def test_bubble_chart_refuses_mismatched_lengths():
    with pytest.raises(ValueError, match="same length"):
        plot.bubble_chart([1, 2], [1], [1, 2], ["a", "b"])
