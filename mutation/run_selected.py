"""The test command of a mutation session: the tests that run the mutated line, then all.

cosmic-ray applies one mutant to a module of the group's copy of the project and runs this
(from the copy). It finds the changed line by comparing each module with its pristine copy,
widens it to the whole statement (coverage records a statement under its first line), and
runs first the tests that ran that statement in the unmutated code (``.mutation/covmap.json``,
written when the session began). A failure there kills the mutant. If they all pass, or no
test runs it, the group's whole test selection runs, as before: a mutant is called a
survivor only after every test of the group has passed on it. Both runs take the quickest
tests first. So the selection changes how long a run takes, never its verdict.
"""

from __future__ import annotations

import ast
import difflib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

HERE = Path.cwd()
META = HERE / ".mutation"


def changed_lines(pristine: str, current: str) -> set[int]:
    """Line numbers (1-based, in ``pristine``) that differ in ``current``."""
    a, b = pristine.splitlines(), current.splitlines()
    lines: set[int] = set()
    for tag, i1, i2, _j1, _j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag != "equal":
            lines.update(range(i1 + 1, max(i2, i1 + 1) + 1))
    return lines


def _spans(tree: ast.AST) -> list[tuple[int, int]]:
    """(first, last) line of every statement; a compound statement's span is its header."""
    spans = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.stmt):
            continue
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        body = getattr(node, "body", None)
        last = body[0].lineno - 1 if body and isinstance(body, list) else node.end_lineno
        spans.append((first, max(first, last)))
    for node in ast.walk(tree):  # except clauses run when their exception is raised
        if isinstance(node, ast.ExceptHandler):
            spans.append((node.lineno, max(node.lineno, node.body[0].lineno - 1)))
    return spans


def statement_lines(source: str, line: int) -> range | None:
    """The lines of the innermost statement (header) holding ``line``, or None."""
    found = [(hi - lo, lo, hi) for lo, hi in _spans(ast.parse(source)) if lo <= line <= hi]
    if not found:
        return None
    _, lo, hi = min(found)
    return range(lo, hi + 1)


def selected_tests(meta: dict, covmap: dict) -> set[str] | None:
    """Node ids of the tests that ran the mutated statements; None to run every test."""
    tests: set[str] = set()
    for module in meta["modules"]:
        pristine = (META / "pristine" / module).read_text()
        current = (HERE / module).read_text()
        if pristine == current:
            continue
        for line in changed_lines(pristine, current):
            span = statement_lines(pristine, line)
            if span is None:
                return None
            for ln in span:
                # "": run at import or collection (every test may depend on it): the tests
                # that also run it come first all the same, then every test
                tests.update(t for t in covmap.get(module, {}).get(str(ln), []) if t)
    return tests or None


def _pytest(args: list[str], extra_env: dict) -> int:
    args = ["-x", "-q", "-p", "no:cacheprovider",
            "-k", os.environ.get("MUTATION_DESELECT", "not fresh_processes"), *args]
    server = os.environ.get("MUTATION_SERVER")
    if server and os.path.exists(server):  # fork_server.py: imports already paid
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.connect(server)
            with conn.makefile("rw") as stream:
                stream.write(json.dumps({"args": args, "env": extra_env}) + "\n")
                stream.flush()
                return int(stream.readline())
    env = os.environ | extra_env | {
        "PYTHONPATH": os.pathsep.join([str(HERE), str(HERE / "mutation")]),
        "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([sys.executable, "-m", "pytest", *args], env=env).returncode


def main() -> int:
    meta = json.loads((META / "group.json").read_text())
    covmap = json.loads((META / "covmap.json").read_text())
    order = {"MUTATION_ORDER": str(META / "covmap.json")}
    tests = selected_tests(meta, covmap)
    if tests:
        (META / "selected.txt").write_text("\n".join(sorted(tests)) + "\n")
        files = sorted({t.split("::")[0] for t in tests})
        code = _pytest(["-p", "pytest_mutation", *files],
                       {"MUTATION_SELECT": str(META / "selected.txt"), **order})
        if code not in (0, 5):  # 5: none of the ids was collected
            return code
    return _pytest(["-p", "pytest_mutation", *meta["tests"]], order)


if __name__ == "__main__":
    sys.exit(main())
