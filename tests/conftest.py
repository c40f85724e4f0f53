"""Suite-wide settings. Each part's own fixtures live in its tests/<part>/conftest.py."""

from __future__ import annotations

import os
import tempfile


def pytest_configure(config: object) -> None:
    # A store opened with no path must never land in the developer's real data folder.
    os.environ["MELIOUS_IMPACT_HOME"] = tempfile.mkdtemp(prefix="melious-impact-tests-")
