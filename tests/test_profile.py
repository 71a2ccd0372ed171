import pytest
import torch
from torch import nn

from cnncourse import profile


def test_count_params_total_and_trainable():
    model = nn.Sequential(nn.Linear(10, 5), nn.Linear(5, 2))
    assert profile.count_params(model) == 10 * 5 + 5 + 5 * 2 + 2
    model[0].requires_grad_(False)
    assert profile.count_params(model, trainable_only=True) == 5 * 2 + 2


def test_conv_flops_are_two_per_multiply_add():
    conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
    macs = 8 * 16 * 16 * 3 * 3 * 3  # every output value: 3*3*3 multiply-adds
    assert profile.count_flops(conv, (2, 3, 16, 16)) == 2 * 2 * macs
    assert profile.count_macs(conv, (2, 3, 16, 16)) == 2 * macs


def test_flops_on_meta_device_equal_real_ones():
    real = nn.Sequential(nn.Conv2d(3, 4, 5, stride=2), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 14 * 14, 7))
    with torch.device("meta"):
        meta = nn.Sequential(nn.Conv2d(3, 4, 5, stride=2), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 14 * 14, 7))
    assert profile.count_flops(meta, (1, 3, 32, 32)) == profile.count_flops(real, (1, 3, 32, 32)) > 0


def test_flops_by_module_and_mode_restored():
    model = nn.Sequential(nn.Linear(6, 4), nn.Linear(4, 3)).train()
    table = profile.count_flops(model, (5, 6), by_module=True)
    assert table["Global"] == 2 * 5 * (6 * 4 + 4 * 3)
    assert model.training  # counting happens in eval mode but must not change the caller's mode


def test_summary_matches_param_count():
    model = nn.Sequential(nn.Conv2d(1, 6, 5), nn.Flatten(), nn.Linear(6 * 28 * 28, 10))
    stats = profile.summary(model, (1, 1, 32, 32))
    assert stats.total_params == profile.count_params(model)
    assert "Conv2d" in str(stats)


def test_peak_memory_counts_live_tensors_not_the_sum():
    n = 1_000_000  # float32: 4 MB each

    def work():
        a = torch.ones(n)
        b = a * 2  # a and b alive together: 8 MB
        del a, b
        c = torch.ones(n)  # 4 MB more, after 8 MB were freed
        return c.sum()

    peak = profile.peak_memory(work)
    assert 8 * n <= peak < 8 * n + 100_000


def test_saved_activation_bytes_of_a_known_network():
    model = nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 5))
    # autograd keeps the ReLU output (read by ReLU's and the second Linear's backward): 4 x 20 float32 values;
    # the input and the weights are not activations and are not counted.
    assert profile.saved_activation_bytes(model, torch.randn(4, 10)) == 4 * 20 * 4


def test_benchmark_measures_more_work_as_slower_and_bigger():
    """Four times the convolutions: more time per batch, fewer images per second, more memory for the backward."""
    torch.manual_seed(0)
    one = nn.Sequential(nn.Conv2d(16, 16, 3, padding=1))
    four = nn.Sequential(*[nn.Conv2d(16, 16, 3, padding=1) for _ in range(4)])
    shape = (8, 16, 32, 32)
    small = profile.benchmark(one, shape, steps=5, warmup=1, train=True)
    large = profile.benchmark(four, shape, steps=5, warmup=1, train=True)
    assert large.ms_per_batch > 1.5 * small.ms_per_batch
    assert small.images_per_s == pytest.approx(8 / (small.ms_per_batch / 1e3))
    assert large.peak_memory_mb > small.peak_memory_mb + 3 * 8 * 16 * 32 * 32 * 4 / 2**20 * 0.9  # 3 more saved maps


def test_peak_memory_rejects_unknown_device():
    with pytest.raises(ValueError, match="mps"):
        profile.peak_memory(lambda: None, "mps")


# --- per-layer table (chapter 05) ---
def _net() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        nn.Sequential(nn.Conv2d(8, 4, 1), nn.ReLU()), nn.Flatten(), nn.Linear(4 * 4 * 4, 5),
    )


def test_rows_follow_call_order_with_shapes_bytes_and_params():
    model = _net()
    rows = profile.layer_table(model, (2, 3, 8, 8))
    assert [r.name for r in rows] == ["0", "1", "2", "3.0", "3.1", "4", "5"]
    assert [r.kind for r in rows] == ["Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "Flatten", "Linear"]
    assert rows[0].shape == (2, 8, 8, 8) and rows[0].values == 2 * 8 * 8 * 8 and rows[0].bytes == 4 * rows[0].values
    assert rows[2].shape == (2, 8, 4, 4) and rows[-1].shape == (2, 5)
    assert [r.params for r in rows] == [3 * 8 * 9 + 8, 0, 0, 8 * 4 + 4, 0, 0, 64 * 5 + 5]
    assert sum(r.params for r in rows) == profile.count_params(model)
    assert [r.inplace for r in rows] == [False, True, False, False, False, False, False]
    assert model.training  # the mode is restored and no hook is left behind
    assert all(not m._forward_hooks for m in model.modules())


def test_meta_device_gives_the_same_table_for_free():
    with torch.device("meta"):
        meta = _net()
    rows_meta = profile.layer_table(meta, (1, 3, 8, 8))
    rows_cpu = profile.layer_table(_net(), (1, 3, 8, 8))
    assert rows_meta == rows_cpu


def test_format_layer_table_totals_skip_in_place_outputs():
    rows = profile.layer_table(_net(), (1, 3, 8, 8))
    text = profile.format_layer_table(rows)
    lines = text.splitlines()
    assert len(lines) == len(rows) + 2 and "ReLU (in-place)" in text and "8×8×8" in text
    fresh = sum(r.values for r in rows if not r.inplace)
    assert lines[-1].startswith("total (new tensors)") and f"{fresh:,d}" in lines[-1]
    assert lines[-1].rstrip().endswith(f"{profile.count_params(_net()):,d}")
    assert "1×8×8×8" in profile.format_layer_table(rows, batch=True)


# --- receptive field ---

@pytest.mark.parametrize("strides", [[1], [1, 1, 1], [1, 2, 1, 2], [2, 2, 2]])
def test_receptive_field_of_stacked_3x3_convs_matches_the_formula(strides):
    net = nn.Sequential(*[nn.Conv2d(2, 2, 3, stride=s, padding=1) for s in strides])
    r, jump = 1, 1
    for s in strides:  # r grows by (k - 1) times the product of the earlier strides
        r, jump = r + 2 * jump, jump * s
    assert profile.receptive_field(net, (1, 2, 65, 65)) == (r, r)


def test_receptive_field_is_not_fooled_by_cancelling_weights_and_keeps_the_model():
    conv = nn.Conv2d(1, 1, (3, 5), padding=(1, 2), bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([[[[1.0, -1, 0, 1, -1], [-1, 1, 0, -1, 1], [0, 0, 0, 0, 0]]]]))
    before = conv.weight.clone()
    net = nn.Sequential(conv, nn.ReLU(), nn.MaxPool2d(2))
    assert profile.receptive_field(net, (1, 1, 21, 21)) == (4, 6)  # a 2×2 pool of 3×5 windows
    assert torch.equal(conv.weight, before)


def test_receptive_field_needs_a_large_enough_input():
    with pytest.raises(ValueError, match="larger"):
        profile.receptive_field(nn.Conv2d(1, 1, 7, padding=3), (1, 1, 5, 5))


def test_time_call_measures_longer_calls_as_longer():
    import time

    short = profile.time_call(lambda: time.sleep(0.002), min_run_time=0.05)
    long = profile.time_call(lambda: time.sleep(0.01), min_run_time=0.05)
    assert 0.002 <= short < long and long >= 0.01


def test_estimate_minutes_follows_flops_layers_or_the_step_floor():
    with torch.device("meta"):
        big = nn.Sequential(nn.Conv2d(3, 256, 3, padding=1), nn.Conv2d(256, 256, 3, padding=1))
        deep = nn.Sequential(*[nn.Conv2d(8, 8, 3, padding=1) for _ in range(200)])
        tiny = nn.Linear(4, 2)
    flops = profile.count_flops(big, (1, 3, 32, 32))
    minutes = profile.estimate_minutes(big, (3, 32, 32), images=50_000, epochs=2, batch_size=500, eval_images=10_000)
    # 2 epochs × (100 training batches + 20 evaluation batches at a third of the cost: forward only) × 2 layers
    layer_time = 2 * (100 + 20 / 3) * 2 * profile.GPU_LAYER_SECONDS
    expected = (3 * flops * 50_000 * 2 + flops * 10_000 * 2) / profile.GPU_TRAINING_FLOPS / 60 + layer_time / 60
    assert minutes == pytest.approx(expected)
    assert profile.estimate_minutes(big, (3, 32, 32), images=50_000, epochs=4, batch_size=500) == pytest.approx(
        2 * profile.estimate_minutes(big, (3, 32, 32), images=50_000, epochs=2, batch_size=500))  # twice the epochs
    # a deep, narrow network is bound by its layers' per-step cost, which FLOPs alone miss
    by_flops = 3 * profile.count_flops(deep, (1, 8, 32, 32)) * 50_000 / profile.GPU_TRAINING_FLOPS / 60
    layered = profile.estimate_minutes(deep, (8, 32, 32), images=50_000, epochs=1, batch_size=128)
    assert layered == pytest.approx(by_flops + 391 * 200 * profile.GPU_LAYER_SECONDS / 60) and layered > 5 * by_flops
    floor = profile.estimate_minutes(tiny, (4,), images=1000, epochs=3, batch_size=10)
    assert floor == pytest.approx(3 * 100 * profile.GPU_STEP_SECONDS / 60)  # a tiny model is bound by its steps
