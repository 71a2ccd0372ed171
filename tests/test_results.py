"""The results ledger: what a chapter records, the README tables made from it, and the check CI runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import cnncourse
from cnncourse import results

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def tiny(monkeypatch):
    monkeypatch.delenv("CNNCOURSE_SCHEDULE", raising=False)
    return cnncourse.setup(mode="tiny", verbose=False)


def test_record_writes_mode_device_versions_and_figures(tmp_path, tiny):
    path = results.record(tiny, "10_resnet", {"ResNet-20 test error (%)": 12.3456789, "parameters": 269_722,
                                              "images/s": 812.5},
                          references={"ResNet-20 test error (%)": "8.75 (He et al., Table 6)"}, unstable=["images/s"],
                          estimated_minutes={"class": 14.2, "paper": 95.0}, root=tmp_path)
    assert path == tmp_path / "tiny" / "10_resnet.json"
    entry = json.loads(path.read_text())
    assert entry["mode"] == "tiny" and entry["device"] == "cpu" and entry["schedule"] is None
    assert entry["torch"] and entry["date"]
    assert entry["figures"][0] == {"name": "ResNet-20 test error (%)", "value": 12.3457,
                                   "reference": "8.75 (He et al., Table 6)", "stable": True}
    assert entry["figures"][2]["stable"] is False and entry["estimated_minutes"] == {"class": 14.2, "paper": 95.0}
    with pytest.raises(ValueError, match="not recorded: \\['accuracy'\\]"):
        results.record(tiny, "x", {"loss": 1.0}, references={"accuracy": 0.9}, root=tmp_path)


def test_tables_show_measured_numbers_only(tmp_path, tiny):
    results.record(tiny, "03_lenet", {"test accuracy (%)": 96.44, "images/s": 4000.0}, unstable=["images/s"],
                   estimated_minutes={"class": 0.4, "paper": 2.5}, root=tmp_path)
    assert results.render("tiny", tmp_path) == (
        "| notebook | figure | ours | reference |\n|---|---|---|---|\n| 03_lenet | test accuracy (%) | 96.44 | — |")
    assert results.render("full", tmp_path).endswith("| 03_lenet | not run yet | | |")  # never an unmeasured number
    assert results.render("estimates", tmp_path).endswith("| 03_lenet | 0.4 min | 2.5 min |")
    with pytest.raises(ValueError, match="no results table named 'gpu'"):
        results.render("gpu", tmp_path)


def test_update_readme_rewrites_between_markers(tmp_path, tiny, monkeypatch):
    results.record(tiny, "03_lenet", {"parameters": 61_706}, root=tmp_path)
    monkeypatch.setenv(results.RESULTS_ENV, str(tmp_path))
    readme = tmp_path / "README.md"
    blocks = "".join(f"<!-- results:{n} -->\nold\n<!-- /results:{n} -->\n" for n in results.TABLES)
    readme.write_text("# title\n" + blocks + "end\n")
    assert results.main(["--check", str(readme)]) == 1
    assert results.main([str(readme)]) == 0
    text = readme.read_text()
    assert "| 03_lenet | parameters | 61,706 | — |" in text and "old" not in text and text.endswith("end\n")
    assert results.main(["--check", str(readme)]) == 0
    assert not results.update_readme(readme)  # nothing left to change
    readme.write_text("no markers")
    with pytest.raises(ValueError, match="no <!-- results:tiny -->"):
        results.update_readme(readme)


def test_a_smoke_run_records_nothing(tmp_path, tiny, monkeypatch, capsys):
    monkeypatch.setenv("CNNCOURSE_SMOKE_STEPS", "2")
    assert results.record(tiny, "03_lenet", {"accuracy": 0.1}, root=tmp_path) is None
    assert not (tmp_path / "tiny").exists() and "smoke run: figures not recorded" in capsys.readouterr().out


def test_the_readme_tables_match_the_committed_results():
    """CI checks this again after the notebooks have rewritten results/tiny (conftest.py), with what CI measured."""
    assert results.results_dir() == ROOT / "results"
    assert results.main(["--check", str(ROOT / "README.md")]) == 0
