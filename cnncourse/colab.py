"""The header every notebook starts with: an "Open in Colab" badge and a cell that installs this package on Colab.

Both are built from `cnncourse.REPO`, the one place the repository's address is written. After the repository
moves, change `REPO` and run ``python -m cnncourse.colab`` to rewrite the headers of every notebook source.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from . import REPO, REPO_URL

BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
INSTALL_CELL = f'''\
# On Google Colab: install the course's helper package (Colab already has torch, so it is not reinstalled).
# Anywhere else this cell does nothing; locally, `pip install -r requirements.txt` has installed it.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "cnncourse @ git+{REPO_URL}"], check=True)'''

_BADGE_RE = re.compile(r"\[!\[Open in Colab\]\([^)]*\)\]\(https://colab\.research\.google\.com/github/[^)]*\)")
_INSTALL_RE = re.compile(r'"cnncourse @ git\+https://github\.com/[^"]*"')


def notebook_id(path: str | Path) -> str:
    """A notebook's name under ``notebooks/``: ``03_lenet``, or ``solutions/03_lenet`` for a solutions notebook."""
    path = Path(path)
    return f"solutions/{path.stem}" if path.parent.name == "solutions" else path.stem


def colab_url(notebook: str) -> str:
    """Colab's address for ``notebooks/<notebook>.ipynb`` on the main branch (``notebook`` may be ``solutions/…``)."""
    return f"https://colab.research.google.com/github/{REPO}/blob/main/notebooks/{notebook}.ipynb"


def badge(notebook: str) -> str:
    return f"[![Open in Colab]({BADGE_IMAGE})]({colab_url(notebook)})"


def rewrite(path: Path) -> bool:
    """Point the badge and install cell of one ``.py`` notebook source at `REPO`; True if the file changed."""
    text = path.read_text()
    new = _BADGE_RE.sub(lambda _: badge(notebook_id(path)), text)
    new = _INSTALL_RE.sub(f'"cnncourse @ git+{REPO_URL}"', new)
    if new != text:
        path.write_text(new)
    return new != text


def main(folder: str = "notebooks") -> None:
    sources = sorted(Path(folder).glob("[0-9][0-9]_*.py")) + sorted(Path(folder).glob("solutions/[0-9][0-9]_*.py"))
    changed = [notebook_id(p) for p in sources if rewrite(p)]
    print(f"rewrote {len(changed)} notebook(s): {', '.join(changed) or 'none'}; now run `jupytext --sync` on them")


if __name__ == "__main__":
    main(*sys.argv[1:])
