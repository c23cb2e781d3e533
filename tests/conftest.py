from __future__ import annotations

from pathlib import Path

import pytest

from cobic.paths import shared_data_dir


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Real reference data (../shared/data or $COBIC_SHARED_DATA); skipped visibly if absent."""
    d = shared_data_dir()
    if not (d / "dfe").is_dir():
        pytest.skip(f"shared reference data not found at {d} (set COBIC_SHARED_DATA)")
    return d
