"""Every notebook pair is in sync, executed, checkable by nbval, and starts with the course's Colab header."""

import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

from cnncourse import REPO_URL
from cnncourse.colab import INSTALL_CELL, badge, colab_url, notebook_id

from notebook_checks import header_problems, is_checked, output_problems, pair_mismatch

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SOLUTIONS = sorted((ROOT / "notebooks" / "solutions").glob("*.ipynb"))
NOTEBOOKS = CHAPTERS + SOLUTIONS
SOURCES = sorted((ROOT / "notebooks").glob("*.py")) + sorted((ROOT / "notebooks" / "solutions").glob("*.py"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found"


@pytest.mark.parametrize("path", NOTEBOOKS + SOURCES, ids=lambda p: p.name)
def test_name_and_partner(path):
    assert re.fullmatch(r"\d\d_[a-z0-9_]+", path.stem), f"{path.name}: notebooks are named NN_name"
    partner = path.with_suffix(".py" if path.suffix == ".ipynb" else ".ipynb")
    assert partner.exists(), f"{path.name} has no paired {partner.name}"


@pytest.mark.parametrize("ipynb", NOTEBOOKS, ids=lambda p: p.name)
def test_pair_in_sync(ipynb):
    assert pair_mismatch(ipynb.with_suffix(".py"), ipynb) == []


@pytest.mark.parametrize("ipynb", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_outputs(ipynb):
    assert output_problems(ipynb) == []


@pytest.mark.parametrize("ipynb", NOTEBOOKS, ids=lambda p: p.name)
def test_colab_header(ipynb):
    assert header_problems(ipynb) == []


@pytest.mark.parametrize("ipynb", CHAPTERS, ids=lambda p: p.name)
def test_has_checked_cells_and_exercises(ipynb):
    nb = nbformat.read(ipynb, as_version=4)
    assert any(c.cell_type == "code" and is_checked(c.source) for c in nb.cells), "no NBVAL_CHECK_OUTPUT cell"
    assert any(c.cell_type == "markdown" and c.source.startswith("## Exercises") for c in nb.cells)


def test_repository_url_lives_in_one_place():
    assert REPO_URL in INSTALL_CELL and colab_url("00_overview").startswith(
        "https://colab.research.google.com/github/" + REPO_URL.removeprefix("https://github.com/"))
    readme = (ROOT / "README.md").read_text()
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert f'Repository = "{REPO_URL}"' in pyproject
    for ipynb in CHAPTERS:
        assert badge(notebook_id(ipynb)) in readme, f"README lacks the badge of {ipynb.name}"
    # no other address of the course's repository anywhere in notebooks or README (others' repositories, such as
    # the training recipe a torchvision weight's metadata links to, may appear)
    for path in [ROOT / "README.md", *NOTEBOOKS, *SOURCES]:
        for url in re.findall(r"github(?:\.com)?/([\w.-]+/[\w.-]+)/", path.read_text()):
            if "course" in url.lower():
                assert url == REPO_URL.removeprefix("https://github.com/"), f"{path.name} points at {url}"


# --- the checks themselves can fail ---------------------------------------------------------------------------

def test_desynced_pair_is_detected(tmp_path):
    src = ROOT / "notebooks" / "00_overview"
    for ext in (".py", ".ipynb"):
        shutil.copy(src.with_suffix(ext), tmp_path / f"00_overview{ext}")
    py = tmp_path / "00_overview.py"
    text = py.read_text()
    assert "epochs = cfg.pick(tiny=3," in text
    py.write_text(text.replace("epochs = cfg.pick(tiny=3,", "epochs = cfg.pick(tiny=4,"))
    assert pair_mismatch(py, tmp_path / "00_overview.ipynb")


def test_checked_cell_without_output_and_inline_marker_are_detected(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(2)", execution_count=1),
        nbformat.v4.new_code_cell("print(3)  # NBVAL_CHECK_OUTPUT", execution_count=2,
                                  outputs=[nbformat.v4.new_output("stream", text="3\n")]),
        nbformat.v4.new_code_cell("print('/home/me')", execution_count=None,
                                  outputs=[nbformat.v4.new_output("stream", text="/home/me\n")]),
    ]
    nbformat.write(nb, tmp_path / "x.ipynb")
    problems = " | ".join(output_problems(tmp_path / "x.ipynb"))
    assert "no stored output" in problems and "not alone" in problems
    assert "machine path" in problems and "not executed" in problems


def run_nbval(tmp_path, stored: str) -> subprocess.CompletedProcess:
    nb = nbformat.v4.new_notebook()
    out = nbformat.v4.new_output("stream", name="stdout", text=stored)
    nb.cells = [nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(6 * 7)", execution_count=1, outputs=[out])]
    nbformat.write(nb, tmp_path / "check.ipynb")
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax", "--nbval-current-env",
           "--rootdir", str(tmp_path), "-c", str(tmp_path / "pytest.ini"), str(tmp_path / "check.ipynb")]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=300)


def test_nbval_fails_on_a_wrong_checked_output(tmp_path):
    wrong = run_nbval(tmp_path, "41\n")
    assert wrong.returncode == 1, wrong.stdout[-2000:]
    right = run_nbval(tmp_path, "42\n")
    assert right.returncode == 0, right.stdout[-2000:]


# --- worked solutions --------------------------------------------------------------------------------------------

def exercises(nb) -> list[str]:
    """The numbered items of a chapter's ``## Exercises`` cell."""
    cell = next(c for c in nb.cells if c.cell_type == "markdown" and c.source.startswith("## Exercises"))
    return re.findall(r"^(\d+)\. ", cell.source, re.M)


@pytest.mark.parametrize("ipynb", CHAPTERS, ids=lambda p: p.name)
def test_every_chapter_has_worked_solutions(ipynb):
    solutions = ipynb.parent / "solutions" / ipynb.name
    assert solutions.exists(), f"{ipynb.name} has no worked solutions in notebooks/solutions/"
    chapter = nbformat.read(ipynb, as_version=4)
    cell = next(c for c in chapter.cells if c.cell_type == "markdown" and c.source.startswith("## Exercises"))
    assert f"](solutions/{ipynb.name})" in cell.source and badge(f"solutions/{ipynb.stem}") in cell.source, (
        "the chapter's exercise list must link to its solutions notebook and its Colab badge")
    asked = exercises(chapter)
    assert asked == [str(i) for i in range(1, len(asked) + 1)] and asked
    sol = nbformat.read(solutions, as_version=4)
    answered, sections = [], []
    for c in sol.cells:
        match = re.match(r"## Exercise (\d+)\b", c.source) if c.cell_type == "markdown" else None
        if match:
            answered.append(match.group(1))
            sections.append([])
        elif sections and c.cell_type == "code":
            sections[-1].append(c.source)
    assert answered == asked, f"solutions answer exercises {answered}, the chapter asks {asked}"
    for number, code in zip(answered, sections):
        checked = any(is_checked(src) or re.search(r"^\s*(assert|cfg\.expect)\b", src, re.M) for src in code)
        assert checked, f"exercise {number}'s solution ends in no checked answer (an assert or a checked cell)"
