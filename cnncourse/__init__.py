"""cnncourse: the helper package of the CNN architectures course.

One module per concern: `config` (run settings), `data`, `train`, `plot`, `profile`; chapters add `scratch` (the
from-scratch operations) and `models`.
"""

from .config import Settings, setup

__version__ = "0.1.0"

# The one place the repository's address is written; a test checks that every notebook's badge and install cell
# uses it (`python -m cnncourse.colab` rewrites them after a move).
REPO = "cnncourse/cnncourse"
REPO_URL = f"https://github.com/{REPO}"

__all__ = ["REPO", "REPO_URL", "Settings", "setup", "__version__"]
