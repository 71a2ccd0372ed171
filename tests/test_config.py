import re

import pytest
import torch

import cnncourse
from cnncourse import config


@pytest.mark.parametrize("value, expected", [("tiny", "tiny"), ("full", "full"), (" FULL ", "full")])
def test_explicit_modes(value, expected):
    assert config.resolve_mode(value) == expected


@pytest.mark.parametrize("cuda, expected", [(True, "full"), (False, "tiny")])
def test_auto_follows_cuda(monkeypatch, cuda, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    assert config.resolve_mode("auto") == expected
    monkeypatch.delenv(config.MODE_ENV, raising=False)
    assert config.resolve_mode() == expected  # unset means auto
    for empty in ("", "  "):
        monkeypatch.setenv(config.MODE_ENV, empty)  # set but empty, e.g. `CNNCOURSE_MODE= jupyter lab`
        assert config.resolve_mode() == expected


def test_mode_from_environment(monkeypatch):
    monkeypatch.setenv(config.MODE_ENV, "full")
    assert cnncourse.setup(verbose=False).mode == "full"


def test_unknown_mode_names_the_allowed_values(monkeypatch):
    monkeypatch.setenv(config.MODE_ENV, "fast")
    with pytest.raises(ValueError, match=r"'fast'.*tiny, full, auto"):
        cnncourse.setup()


def test_setup_seeds_every_generator():
    import random

    import numpy as np

    cnncourse.setup(seed=3, verbose=False)
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    cnncourse.setup(seed=3, verbose=False)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first
    cnncourse.setup(seed=4, verbose=False)
    assert torch.rand(1).item() != first[2]


def test_banner_is_one_line_without_home_path(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv(config.DATA_ENV, str(tmp_path / "course-data"))
    cfg = cnncourse.setup(mode="tiny")
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert re.search(r"mode=tiny \| device=\w+ \| torch \S+ \| data ~/course-data", out)
    assert cfg.data_dir == tmp_path / "course-data"
    assert str(tmp_path) not in out


def test_data_dir_default_and_override(monkeypatch, tmp_path):
    monkeypatch.delenv(config.DATA_ENV, raising=False)
    assert config.data_dir() == config.DEFAULT_DATA_DIR.expanduser()
    monkeypatch.setenv(config.DATA_ENV, str(tmp_path))
    assert config.data_dir() == tmp_path


def test_pick_follows_mode():
    tiny = config.Settings("tiny", torch.device("cpu"), config.data_dir(), 0)
    full = config.Settings("full", torch.device("cpu"), config.data_dir(), 0)
    assert (tiny.pick(tiny=1, full=2), full.pick(tiny=1, full=2)) == (1, 2)
    assert tiny.tiny and not tiny.full and full.full


def test_schedule_picks_full_modes_class_or_paper_length(monkeypatch):
    monkeypatch.delenv(config.SCHEDULE_ENV, raising=False)
    full = cnncourse.setup(mode="full", verbose=False)
    assert full.schedule == "class" and full.pick(tiny=1, full=30, paper=164) == 30
    monkeypatch.setenv(config.SCHEDULE_ENV, "paper")
    paper = cnncourse.setup(mode="full", verbose=False)
    assert paper.pick(tiny=1, full=30, paper=164) == 164
    assert paper.pick(tiny=1, full=30) == 30  # no paper value given: the class one
    assert cnncourse.setup(mode="tiny", verbose=False).pick(tiny=1, full=30, paper=164) == 1
    assert "mode=full (paper schedule)" in paper.banner()
    assert "schedule" not in cnncourse.setup(mode="tiny", verbose=False).banner()  # tiny mode has one length
    monkeypatch.setenv(config.SCHEDULE_ENV, "fast")
    with pytest.raises(ValueError, match="'fast' is not a schedule; use class .* or paper"):
        cnncourse.setup(verbose=False)


def test_checkpoints_live_under_the_data_folder_in_full_mode_only(monkeypatch, tmp_path):
    monkeypatch.setenv(config.DATA_ENV, str(tmp_path))
    monkeypatch.delenv(config.SCHEDULE_ENV, raising=False)
    assert cnncourse.setup(mode="tiny", verbose=False).checkpoint("03_lenet-tanh") is None
    full = cnncourse.setup(mode="full", verbose=False)
    assert full.checkpoint("03_lenet-tanh") == tmp_path / "checkpoints" / "03_lenet-tanh-class.pt"
    monkeypatch.setenv(config.SCHEDULE_ENV, "paper")  # a paper-length run never resumes a class-length one
    assert cnncourse.setup(mode="full", verbose=False).checkpoint("x").name == "x-paper.pt"


def test_expect_asserts_except_in_a_smoke_run(monkeypatch):
    monkeypatch.delenv(config.SMOKE_ENV, raising=False)
    cfg = cnncourse.setup(mode="tiny", verbose=False)
    cfg.expect(True, "fine")
    with pytest.raises(AssertionError, match="should learn"):
        cfg.expect(False, "should learn")
    monkeypatch.setenv(config.SMOKE_ENV, "2")
    assert cfg.smoke
    cfg.expect(False, "a smoke run trains two batches: nothing to expect")


def test_tiny_mode_uses_one_thread_so_every_machine_prints_the_same_numbers(monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.setattr(cnncourse.config, "_MACHINE_THREADS", 3)  # what PyTorch chose for this machine at import
    try:
        cnncourse.setup(mode="tiny", verbose=False)
        assert torch.get_num_threads() == 1
        cnncourse.setup(mode="full", verbose=False)
        assert torch.get_num_threads() == 3  # full mode gets the machine's threads back, also after tiny mode
    finally:
        torch.set_num_threads(before)
