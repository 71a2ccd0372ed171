"""The environment files agree with each other and admit the torch versions the course must run on."""

import re
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+; the package itself supports 3.10
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def requirements_txt() -> list[str]:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return [l.strip() for l in lines if l.strip() and not l.lstrip().startswith("#")]


def environment_yml_pip() -> list[str]:
    text = (ROOT / "environment.yml").read_text()
    block = text.split("- pip:", 1)[1]
    return [m.group(1).strip() for m in re.finditer(r"^\s+-\s+(.+)$", block, re.M)]


def test_environment_yml_installs_the_same_set_as_requirements_txt():
    assert sorted(environment_yml_pip()) == sorted(requirements_txt())


def test_requirements_include_the_package_and_the_course_tools():
    names = {Requirement(r).name for r in requirements_txt() if not r.startswith("-e")}
    assert {"torch", "torchvision", "jupyterlab", "matplotlib", "torchinfo", "jupytext", "nbval", "numpy", "tqdm",
            "ipywidgets", "scikit-learn"} <= names
    assert "-e ." in requirements_txt()


def specs() -> dict[str, Requirement]:
    return {Requirement(r).name: Requirement(r) for r in requirements_txt() if not r.startswith("-e")}


@pytest.mark.parametrize("version", ["2.14.1", "2.9.0", "2.8.0", "2.6.0"])  # this machine; recent Colab releases
def test_torch_range_admits(version):
    assert Version(version) in specs()["torch"].specifier


@pytest.mark.parametrize("version", ["0.29.1", "0.24.0", "0.23.0", "0.21.0"])
def test_torchvision_range_admits(version):
    assert Version(version) in specs()["torchvision"].specifier


def test_package_dependencies_use_the_same_ranges():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = specs()
    for dep in map(Requirement, project["dependencies"]):
        assert dep.name in reqs, f"{dep.name} is a package dependency missing from requirements.txt"
        assert dep.specifier == reqs[dep.name].specifier, f"{dep.name}: pyproject and requirements.txt differ"
    assert {Requirement(r).name for r in project["optional-dependencies"]["test"]} >= {"pytest", "timm"}
