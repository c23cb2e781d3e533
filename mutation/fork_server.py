"""A fork server for mutation runs: pays the test suite's third-party imports once.

Importing pytest, polars, numpy, scipy, statsmodels and the rest takes about 3 s, most of
the cost of a killed mutant. This process imports them once (never ``cobic``, which the
mutant changes on disk), then for each request from ``run_selected.py`` forks a child that
runs ``pytest.main`` on the requested arguments and reports its exit code. The child
imports ``cobic`` afresh from the (mutated) source; no bytecode is written
(``PYTHONDONTWRITEBYTECODE``), so a mutant is never run from a stale cache.

    python mutation/fork_server.py SOCKET TIMEOUT_SECONDS

One request at a time (cosmic-ray's local distributor runs one mutant at a time). A request
is one line of JSON ``{"args": [...], "env": {...}}``; the answer one line, the exit code.
A child still running after the timeout is killed and reported as failed (exit code 124).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time


def _preload() -> None:
    import altair  # noqa: F401
    import hypothesis  # noqa: F401
    import numpy  # noqa: F401
    import pandera.polars  # noqa: F401
    import polars  # noqa: F401
    import pytest  # noqa: F401
    import scipy.stats  # noqa: F401
    import statsmodels.api  # noqa: F401


def _child(request: dict) -> None:
    import pytest

    os.environ.update(request.get("env", {}))
    sys.path[:0] = [p for p in request.get("path", []) if p not in sys.path]
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    code = pytest.main(request["args"])
    os._exit(int(code))


def _wait(pid: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") \
                else status
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return 124
        time.sleep(0.02)


def serve(path: str, timeout: float) -> None:
    _preload()
    if os.path.exists(path):
        os.unlink(path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    while True:
        conn, _ = server.accept()
        with conn, conn.makefile("rw") as stream:
            line = stream.readline()
            if not line:
                continue
            request = json.loads(line)
            if request.get("stop"):
                return
            pid = os.fork()
            if pid == 0:
                server.close()
                _child(request)
            code = _wait(pid, timeout)
            try:
                stream.write(f"{code}\n")
                stream.flush()
            except OSError:  # the client was stopped (cosmic-ray's own timeout)
                pass


if __name__ == "__main__":
    serve(sys.argv[1], float(sys.argv[2]))
