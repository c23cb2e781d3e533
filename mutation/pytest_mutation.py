"""A pytest plugin for the mutation runner (``-p pytest_mutation``, with ``mutation/`` on the path).

Two jobs, each switched on by an environment variable:

``MUTATION_COVER=<json file>``
    record which test runs each line of the modules in ``MUTATION_MODULES`` (paths joined
    by ``os.pathsep``) and write ``{module: {line: [test node ids]}}`` to the file. Lines run
    outside any test (at import, during collection) are listed under the id ``""``.
``MUTATION_SELECT=<text file>``
    run only the tests whose node ids are listed in the file, one per line.
``MUTATION_ORDER=<json file>``
    run the quickest tests first, by the durations the ``MUTATION_COVER`` run recorded.
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


_durations: dict[str, float] = {}


def pytest_runtest_logreport(report):
    if _cov is not None:
        _durations[report.nodeid] = _durations.get(report.nodeid, 0.0) + report.duration


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    select = os.environ.get("MUTATION_SELECT")
    if select:
        wanted = set(Path(select).read_text().split("\n")) - {""}
        config.hook.pytest_deselected(items=[it for it in items if it.nodeid not in wanted])
        items[:] = [it for it in items if it.nodeid in wanted]
    order = os.environ.get("MUTATION_ORDER")
    if order:
        _fast_first(items, json.loads(Path(order).read_text()).get("__durations__", {}))


def _fast_first(items, durations: dict[str, float]) -> None:
    """Quick tests first, so that ``-x`` stops at a failure sooner: files by their mean test
    time, tests within a file by their own (a file's tests stay together, so its fixtures
    are set up once)."""
    files: dict[str, list] = {}
    for it in items:
        files.setdefault(it.nodeid.split("::")[0], []).append(it)

    def mean(tests):
        return sum(durations.get(t.nodeid, 1.0) for t in tests) / len(tests)

    items[:] = [t for f in sorted(files.values(), key=mean)
                for t in sorted(f, key=lambda t: durations.get(t.nodeid, 1.0))]


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
    out["__durations__"] = _durations
    Path(_COVER).write_text(json.dumps(out))
