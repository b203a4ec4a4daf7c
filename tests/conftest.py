"""Set-up shared by every test."""

from __future__ import annotations

import os

# pytest-xdist starts its workers with COLUMNS=80 and LINES=24 in the environment. Given
# both, rich fixes the console's size when the CLI module is first imported, and the tests
# that widen the terminal with COLUMNS see tables folded at 80 columns. Without them the
# console sizes itself on each call, as in a serial run.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.pop("COLUMNS", None)
    os.environ.pop("LINES", None)
