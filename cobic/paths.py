"""Where cobic finds its shipped specs and fixtures, and the shared reference data."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

__all__ = ["models_dir", "fixtures_dir", "shared_data_dir", "SHARED_DATA_ENV",
           "source_fingerprint"]

SHARED_DATA_ENV = "COBIC_SHARED_DATA"
_PACKAGE = Path(__file__).resolve().parent


def _first_existing(*candidates: Path) -> Path:
    for c in candidates:
        if c.is_dir():
            return c
    return candidates[-1]


def models_dir() -> Path:
    """The ``models/`` folder: inside the wheel as ``cobic/_models``, else the source tree's."""
    return _first_existing(_PACKAGE / "_models", _PACKAGE.parent / "models")


def fixtures_dir() -> Path:
    """The ``fixtures/`` folder: inside the wheel as ``cobic/_fixtures``, else the source tree's."""
    return _first_existing(_PACKAGE / "_fixtures", _PACKAGE.parent / "fixtures")


def shared_data_dir() -> Path:
    """Real DfE/ONS reference data: ``$COBIC_SHARED_DATA``, default ``../shared/data``.

    The default is taken relative to the project root (the folder holding ``cobic/``), then to
    the working directory.
    """
    env = os.environ.get(SHARED_DATA_ENV)
    if env:
        return Path(env)
    return _first_existing(_PACKAGE.parent.parent / "shared" / "data",
                           Path.cwd().parent / "shared" / "data")


def source_fingerprint(*inputs: Path | str) -> str:
    """A hash of cobic's own code and specs (``cobic/**/*.py``, ``models/**/*.toml``) and of
    every file under ``inputs``: the key under which a notebook may cache a result computed
    from them, so that any change to the code, a spec or an input computes it afresh."""
    h = hashlib.sha256()
    roots = [(_PACKAGE, "*.py"), (models_dir(), "*.toml")]
    roots += [(Path(p), "*") for p in inputs]
    for root, pattern in roots:
        files = [root] if root.is_file() else sorted(f for f in root.rglob(pattern)
                                                     if f.is_file()
                                                     and "__pycache__" not in f.parts)
        for f in files:
            h.update(str(f.relative_to(root) if f != root else f.name).encode())
            h.update(f.read_bytes())
    return h.hexdigest()
