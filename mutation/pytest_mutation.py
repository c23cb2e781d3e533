"""A pytest plugin for the mutation runner (``-p pytest_mutation``, with ``mutation/`` on the path).

Two jobs, each switched on by an environment variable:

``MUTATION_COVER=<json file>``
    record which test runs each line of the modules in ``MUTATION_MODULES`` (paths joined
    by ``os.pathsep``) and write ``{module: {line: [test node ids]}}`` to the file. Lines run
    outside any test (at import, during collection) are listed under the id ``""``.
``MUTATION_SELECT=<text file>``
    run only the tests whose node ids are listed in the file, one per line.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

_COVER = os.environ.get("MUTATION_COVER")
_cov = None
if _COVER:
    import coverage

    # started when the plugin is imported, before any conftest imports the package
    _modules = [str(Path(m).resolve()) for m in os.environ["MUTATION_MODULES"].split(os.pathsep)]
    _cov = coverage.Coverage(data_file=None, include=_modules)
    _cov.start()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    if _cov is not None:
        _cov.switch_context(item.nodeid)
    yield
    if _cov is not None:
        _cov.switch_context("@between")


def pytest_collection_modifyitems(session, config, items):
    select = os.environ.get("MUTATION_SELECT")
    if not select:
        return
    wanted = set(Path(select).read_text().split("\n")) - {""}
    keep = [it for it in items if it.nodeid in wanted]
    config.hook.pytest_deselected(items=[it for it in items if it.nodeid not in wanted])
    items[:] = keep


def pytest_sessionfinish(session, exitstatus):
    if _cov is None:
        return
    _cov.stop()
    data = _cov.get_data()
    out = {}
    for path in _modules:
        by_line = data.contexts_by_lineno(path) if path in data.measured_files() else {}
        rel = os.path.relpath(path)
        out[rel] = {str(line): sorted({"" if c in ("", "@between") else c for c in ctx})
                    for line, ctx in by_line.items()}
    Path(_COVER).write_text(json.dumps(out))
