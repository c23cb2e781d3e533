"""Mutation testing of the money and demand maths (``make mutate``; not part of ``make test``).

Each group of ``mutation/groups.toml`` is mutated with cosmic-ray in a COPY of the project
(cosmic-ray edits source files in place; the working tree is never touched), running only
that group's fast test files, and the survivors are written to ``mutation/REPORT.md``
(equivalent mutants, listed in ``mutation/equivalent.toml`` with a one-line reason, are
marked as such).

    python mutation/run.py                       # every group
    python mutation/run.py rules dates           # some groups
    python mutation/run.py --budget 20           # stop each group after 20 minutes
    python mutation/run.py --report-only         # rewrite REPORT.md from the last sessions
    python mutation/run.py costs --rerun-survivors   # after adding tests: run the survivors
                                                     # again with today's tests

Sessions are kept in ``$MUTATION_WORKDIR`` (default ``/tmp/cobic-mutation``): a run that was
stopped resumes where it stopped (``--fresh`` starts over).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = Path(os.environ.get("MUTATION_WORKDIR", "/tmp/cobic-mutation"))
SKIP = {".venv", ".git", "screenshots", "__pycache__", ".pytest_cache", ".ruff_cache",
        "__marimo__", "out", "cobic-demo-output"}
# the two-process determinism test is slow and does not test any one module's maths
DESELECT = "not fresh_processes"


def _copy(dest: Path) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(ROOT, dest, ignore=lambda d, names: [n for n in names if n in SKIP])


def _config(group: dict, cfg: dict, dest: Path) -> Path:
    py = sys.executable
    meta = dest / ".mutation"
    meta.mkdir(exist_ok=True)
    (meta / "group.json").write_text(json.dumps({"modules": group["modules"],
                                                 "tests": group["tests"]}))
    text = (
        "[cosmic-ray]\n"
        f"module-path = {json.dumps(group['modules'])}\n"
        f"timeout = {float(cfg.get('timeout', 120.0))}\n"
        "excluded-modules = []\n"
        f"test-command = \"{py} mutation/run_selected.py\"\n"
        "\n[cosmic-ray.distributor]\nname = \"local\"\n"
        "\n[cosmic-ray.filters.operators-filter]\n"
        f"exclude-operators = {json.dumps(cfg.get('exclude-operators', []))}\n")
    path = dest / "cosmic-ray.toml"
    path.write_text(text)
    return path


def _env(dest: Path) -> dict:
    # the copy first on the path (the venv's editable install points at the working tree);
    # the shared reference data named outright: the copy has no ../shared beside it, and
    # without it every test of real data would be skipped and its mutants would survive
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from cobic.paths import SHARED_DATA_ENV, shared_data_dir

    data = shared_data_dir()
    if not (data / "dfe").is_dir():
        raise SystemExit(f"the shared reference data is not at {data}: set {SHARED_DATA_ENV}")
    return os.environ | {"PYTHONPATH": str(dest), "PYTHONHASHSEED": "0",
                         SHARED_DATA_ENV: str(data.resolve())}


def run_group(name: str, group: dict, cfg: dict, budget_min: float | None, fresh: bool) -> None:
    dest = WORK / name
    session = dest / "session.sqlite"
    bindir = Path(sys.executable).parent
    if fresh or not session.exists():
        _copy(dest)
        conf = _config(group, cfg, dest)
        subprocess.run([bindir / "cosmic-ray", "init", conf, session], cwd=dest, check=True)
        subprocess.run([bindir / "cr-filter-operators", session, conf], cwd=dest, check=True)
        _coverage_map(group, dest)
        carried = _carry_over(name, group, session)
        print(f"{name}: {carried} verdicts of an earlier session, on the same source, carried "
              "over (kills, and survivors marked equivalent)")
    conf = dest / "cosmic-ray.toml"
    start = time.time()
    server, sock = _start_server(dest, float(cfg.get("timeout", 120.0)) / 2)
    proc = subprocess.Popen([bindir / "cosmic-ray", "exec", conf, session], cwd=dest,
                            env=_env(dest) | {"MUTATION_SERVER": str(sock)})
    try:
        proc.wait(timeout=None if budget_min is None else budget_min * 60)
    except subprocess.TimeoutExpired:
        proc.terminate()
        proc.wait()
        # cosmic-ray restores a file after each mutant; a stopped run may leave one mutated
        for mod in group["modules"]:
            shutil.copy2(ROOT / mod, dest / mod)
        print(f"{name}: budget of {budget_min} min reached; resume with the same command")
    finally:
        server.kill()
        server.wait()
    (dest / "elapsed.txt").write_text(
        str(float((dest / "elapsed.txt").read_text()) + time.time() - start
            if (dest / "elapsed.txt").exists() and not fresh else time.time() - start))
    save_results(name, group)


def _test_env(dest: Path) -> dict:
    # the copy and the runner's plugin on the path; no bytecode written, so that two mutants
    # of one line, written within the same second, are never run from a stale cache
    return _env(dest) | {"PYTHONPATH": os.pathsep.join([str(dest), str(dest / "mutation")]),
                         "PYTHONDONTWRITEBYTECODE": "1"}


def _start_server(dest: Path, timeout: float) -> tuple[subprocess.Popen, Path]:
    """Start ``fork_server.py`` in the copy and wait until it listens."""
    for script in HERE.glob("*.py"):  # the runner's latest scripts, also in an older copy
        shutil.copy2(script, dest / "mutation" / script.name)
    for cache in (dest / "cobic").rglob("__pycache__"):
        shutil.rmtree(cache)
    sock = dest / ".mutation" / "server.sock"
    sock.unlink(missing_ok=True)
    server = subprocess.Popen([sys.executable, dest / "mutation" / "fork_server.py", sock,
                               str(timeout)], cwd=dest, env=_test_env(dest))
    while not sock.exists():
        if server.poll() is not None:
            raise SystemExit(f"the fork server stopped (exit code {server.returncode})")
        time.sleep(0.2)
    return server, sock


def _coverage_map(group: dict, dest: Path) -> None:
    """Which test runs each line of the group's modules, in the unmutated copy (read by
    ``run_selected.py``), and the pristine modules it compares each mutant with."""
    meta = dest / ".mutation"
    for mod in group["modules"]:
        (meta / "pristine" / mod).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(dest / mod, meta / "pristine" / mod)
    env = _test_env(dest) | {"MUTATION_COVER": str(meta / "covmap.json"),
                        "MUTATION_MODULES": os.pathsep.join(group["modules"])}
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p",
                    "pytest_mutation", "-k", DESELECT, *group["tests"]], cwd=dest, env=env,
                   check=True, stdout=subprocess.DEVNULL)


def _results_file(name: str) -> Path:
    return HERE / "results" / f"{name}.json"


def _scopes(source: str) -> list[tuple[int, int, str, str]]:
    """(first line, last line, name, digest) of each function and method of a module, and
    of the module's own lines outside them (``<module>``: last line 0, matched last)."""
    import ast

    lines = source.splitlines()
    tree = ast.parse(source)
    defs = []
    for node in tree.body:
        kids = node.body if isinstance(node, ast.ClassDef) else [node]
        for n in kids:
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first = min([n.lineno] + [d.lineno for d in n.decorator_list])
                name = f"{node.name}.{n.name}" if n is not node else n.name
                defs.append((first, n.end_lineno, name))
    inside = {i for lo, hi, _ in defs for i in range(lo, hi + 1)}
    out = [(lo, hi, name, hashlib.sha256("\n".join(lines[lo - 1:hi]).encode()).hexdigest()[:12])
           for lo, hi, name in defs]
    rest = "\n".join(ln for i, ln in enumerate(lines, 1) if i not in inside)
    return out + [(0, 0, "<module>", hashlib.sha256(rest.encode()).hexdigest()[:12])]


def _verdict_keys(mutants: list[dict], source_of) -> dict[tuple, str]:
    """A key for each mutant (``module, operator, occurrence, line``) that survives edits
    elsewhere in its module: the function holding it, that function's source digest, the
    operator and the mutant's rank among that operator's mutants in the function."""
    scopes = {}
    keyed = {}
    rank: dict[tuple, int] = {}
    for m in sorted(mutants, key=lambda m: (m["module"], m["operator"], m["occurrence"])):
        sc = scopes.setdefault(m["module"], _scopes(source_of(m["module"])))
        lo, hi, fn, dig = next((x for x in sc if x[0] <= m["line"] <= x[1]), sc[-1])
        k = (m["module"], fn, dig, m["operator"])
        rank[k] = rank.get(k, -1) + 1
        keyed[(m["module"], m["operator"], m["occurrence"])] = \
            f"{m['module']}|{fn}|{dig}|{m['operator']}|{rank[k]}"
    return keyed


def save_results(name: str, group: dict) -> None:
    """Keep a group's verdicts in the project (``mutation/results/<group>.json``), keyed by
    the function that holds each mutant and that function's source (:func:`_verdict_keys`),
    so that a later session, on another machine, need not run again a mutant already killed
    in a function unchanged since."""
    rows = _results(name)
    if not rows:
        return
    pristine = WORK / name / ".mutation" / "pristine"
    keys = _verdict_keys(rows, lambda mod: ((pristine / mod) if (pristine / mod).exists()
                                            else ROOT / mod).read_text())
    verdicts = {keys[(r["module"], r["operator"], r["occurrence"])]: r["status"]
                for r in rows if r["status"] in ("killed", "survived")}
    path = _results_file(name)
    old = json.loads(path.read_text()) if path.exists() else {}
    el = WORK / name / "elapsed.txt"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps({
        "verdicts": dict(sorted(verdicts.items())), "carried": old.get("carried", 0),
        "minutes_earlier": old.get("minutes_earlier", 0.0),
        "minutes": round(float(el.read_text()) / 60 + old.get("minutes_earlier", 0.0), 1)
        if el.exists() else None}, indent=0) + "\n")


def _equivalent_diff(module: str, m, equivalent: list[dict]) -> str | None:
    """The diff of mutant ``m`` of ``module`` (its source in the working tree) when it is
    marked equivalent in ``equivalent.toml`` or lies in an annotation; None otherwise."""
    import difflib

    from cosmic_ray.mutating import mutate_code
    from cosmic_ray.plugins import get_operator

    source = (ROOT / module).read_text()
    mutated = mutate_code(source, get_operator(m.operator_name)(), m.occurrence)
    if mutated is None:
        return None
    diff = "\n".join(difflib.unified_diff(source.splitlines(), mutated.splitlines(),
                                           f"a/{module}", f"b/{module}", lineterm=""))
    old, new = _changed_lines(diff)
    marked = any(e["module"] == module and e["old"] in old and e["new"] in new
                 for e in equivalent)
    if marked or _in_annotation(_annotation_spans(ROOT / module), *m.start_pos):
        return diff
    return None


def _carry_over(name: str, group: dict, session: Path) -> int:
    """Mark as killed, in a new session, the mutants an earlier session killed in a function
    whose source is unchanged; and as survived the survivors there that are marked
    equivalent (no test can kill them). Other survivors are always run again, with today's
    tests."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult

    eq_path = HERE / "equivalent.toml"
    equivalent = tomllib.loads(eq_path.read_text()).get("mutant", []) if eq_path.exists() else []

    path = _results_file(name)
    if not path.exists():
        return 0
    saved = json.loads(path.read_text())
    n = 0
    with use_db(str(session), WorkDB.Mode.open) as db:
        done = {job for job, _ in db.results}
        items, specs = [], {}
        for item in db.work_items:
            m = item.mutations[0]
            mod = os.path.relpath(m.module_path, WORK / name) if m.module_path.is_absolute() \
                else str(m.module_path)
            items.append((item.job_id, {"module": mod, "line": m.start_pos[0],
                                        "operator": m.operator_name.removeprefix("core/"),
                                        "occurrence": m.occurrence}))
            specs[item.job_id] = m
        keys = _verdict_keys([m for _, m in items], lambda mod: (ROOT / mod).read_text())
        for job, m in items:
            key = keys[(m["module"], m["operator"], m["occurrence"])]
            verdict = saved["verdicts"].get(key)
            if job in done or verdict not in ("killed", "survived"):
                continue
            if verdict == "killed":
                db.set_result(job, WorkResult(
                    worker_outcome=WorkerOutcome.NORMAL, test_outcome=TestOutcome.KILLED,
                    output="killed in an earlier session, in the same function source",
                    diff=""))
                n += 1
                continue
            diff = _equivalent_diff(m["module"], specs[job], equivalent)
            if diff is not None:
                db.set_result(job, WorkResult(
                    worker_outcome=WorkerOutcome.NORMAL, test_outcome=TestOutcome.SURVIVED,
                    output="equivalent (mutation/equivalent.toml), survived in an earlier "
                           "session in the same function source", diff=diff))
                n += 1
    saved["carried"] = n
    saved["minutes_earlier"] = saved.get("minutes") or 0.0
    path.write_text(json.dumps(saved, indent=0) + "\n")
    return n


def forget_survivors(name: str, group: dict, cfg: dict) -> int:
    """Make a group's survivors "not run" again, with the current tests and test selection.

    Copies ``tests/`` into the group's copy of the project and rewrites its cosmic-ray config
    from ``groups.toml``, then deletes the survivors' results from the session so that the
    next ``exec`` runs them again (with the mutants never run, if the group has any: give a
    budget to stop it). The copy's mutated modules stay as they were:
    run it only while those modules are unchanged since the session began (their mutants
    are located by line and column).
    """
    import sqlite3

    dest = WORK / name
    session = dest / "session.sqlite"
    if not session.exists():
        return 0
    for mod in group["modules"]:
        if (ROOT / mod).read_bytes() != (dest / mod).read_bytes():
            raise SystemExit(f"{name}: {mod} changed since the session began: run --fresh")
    shutil.rmtree(dest / "tests")
    shutil.copytree(ROOT / "tests", dest / "tests",
                    ignore=lambda d, names: [n for n in names if n in SKIP])
    _config(group, cfg, dest)
    _coverage_map(group, dest)
    with sqlite3.connect(session) as db:
        n = db.execute("DELETE FROM work_results WHERE worker_outcome = 'NORMAL' "
                       "AND test_outcome = 'SURVIVED'").rowcount
    print(f"{name}: {n} survivors to run again with the current tests")
    return n


def _results(name: str) -> list[dict]:
    dest = WORK / name
    session = dest / "session.sqlite"
    if not session.exists():
        return []
    bindir = Path(sys.executable).parent
    out = subprocess.run([bindir / "cosmic-ray", "dump", session], capture_output=True,
                         text=True, check=True).stdout
    rows = []
    for line in out.splitlines():
        item, result = json.loads(line)
        m = item["mutations"][0]
        rows.append({"module": os.path.relpath(m["module_path"], dest)
                     if os.path.isabs(m["module_path"]) else m["module_path"],
                     "operator": m["operator_name"].removeprefix("core/"),
                     "occurrence": m["occurrence"], "line": m["start_pos"][0],
                     "col": m["start_pos"][1],
                     "status": None if result is None else (
                         result["test_outcome"] if result["worker_outcome"] == "normal"
                         else result["worker_outcome"]),
                     "diff": "" if result is None else (result.get("diff") or "")})
    return rows


ANNOTATION = "an annotation: never evaluated under `from __future__ import annotations`"


def _annotation_spans(module: Path) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Source spans of every annotation in ``module`` (arguments, returns, annotated
    assignments), or none when the module does not postpone their evaluation."""
    import ast

    tree = ast.parse(module.read_text())
    postponed = any(isinstance(n, ast.ImportFrom) and n.module == "__future__"
                    and any(a.name == "annotations" for a in n.names) for n in tree.body)
    if not postponed:
        return []
    spans = []
    for node in ast.walk(tree):
        notes = []
        if isinstance(node, ast.arg) and node.annotation is not None:
            notes.append(node.annotation)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.returns:
            notes.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            notes.append(node.annotation)
        spans += [((a.lineno, a.col_offset), (a.end_lineno, a.end_col_offset)) for a in notes]
    return spans


def _in_annotation(spans, line: int, col: int) -> bool:
    return any(lo <= (line, col) < hi for lo, hi in spans)


def _changed_lines(diff: str) -> tuple[str, str]:
    old = [ln[1:].strip() for ln in diff.splitlines() if ln.startswith("-")
           and not ln.startswith("---")]
    new = [ln[1:].strip() for ln in diff.splitlines() if ln.startswith("+")
           and not ln.startswith("+++")]
    return " ".join(old), " ".join(new)


def _earlier(name: str) -> tuple[str | None, list[str]]:
    """The table row and survivor list of ``name`` in the current REPORT.md, for a group with
    no session on this machine (the sessions live in a temporary folder): kept as they were,
    marked as an earlier run, rather than overwritten with "not run"."""
    report = HERE / "REPORT.md"
    if not report.exists():
        return None, []
    text = report.read_text().splitlines()
    row = next((ln for ln in text if ln.startswith(f"| {name} ")), None)
    if row is None or "| not run |" in row:
        return None, []
    if "(earlier run)" not in row:
        row = row.replace(f"| {name} |", f"| {name} (earlier run) |", 1)
    section = []
    if f"## {name}" in text:
        i = text.index(f"## {name}")
        j = next((k for k in range(i + 1, len(text)) if text[k].startswith("## ")), len(text))
        section = text[i:j]
    return row, section


def write_report(cfg: dict) -> None:
    eq_path = HERE / "equivalent.toml"
    equivalent = tomllib.loads(eq_path.read_text()).get("mutant", []) if eq_path.exists() else []
    lines = ["# Mutation testing report", "",
             "Generated by `make mutate` (`mutation/run.py`, cosmic-ray 8.7; groups, test "
             "selections and excluded operators in `mutation/groups.toml`). Survivors marked "
             "*equivalent* are listed in `mutation/equivalent.toml` with the reason.", "",
             "| group | modules | mutants | run | killed | survived (equivalent) | timeout | "
             "incompetent/error | not run | minutes |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    details = []
    for name, group in cfg["groups"].items():
        rows = _results(name)
        if rows:
            save_results(name, group)
        if not rows:
            row, section = _earlier(name)
            lines.append(row or f"| {name} | {', '.join(group['modules'])} | not run | | | | | "
                                "| | |")
            details += section
            continue
        skipped = [r for r in rows if r["status"] == "skipped"]
        rows = [r for r in rows if r["status"] != "skipped"]
        st = [r["status"] for r in rows]
        surv = [r for r in rows if r["status"] == "survived"]
        n_eq = 0
        # the source the session mutated (the working tree may have moved on since)
        pristine = WORK / name / ".mutation" / "pristine"
        spans = {mod: _annotation_spans(pristine / mod if (pristine / mod).exists()
                                        else ROOT / mod) for mod in group["modules"]}
        for r in surv:
            old, new = _changed_lines(r["diff"])
            r["reason"] = next((e["reason"] for e in equivalent
                                if e["module"] == r["module"] and e["old"] in old
                                and e["new"] in new), None)
            if r["reason"] is None and _in_annotation(spans.get(r["module"], []), r["line"],
                                                      r["col"]):
                r["reason"] = ANNOTATION
            n_eq += r["reason"] is not None
        el = WORK / name / "elapsed.txt"
        minutes = f"{float(el.read_text()) / 60:.1f}" if el.exists() else "?"
        lines.append(
            f"| {name} | {', '.join(group['modules'])} | {len(rows)} (+{len(skipped)} "
            f"filtered) | {sum(s is not None for s in st)} | {st.count('killed')} | "
            f"{len(surv)} ({n_eq}) | {st.count('timeout')} | "
            f"{st.count('incompetent') + st.count('exception')} | {st.count(None)} | "
            f"{minutes} |")
        if surv:
            details += [f"## {name}", ""]
            for r in sorted(surv, key=lambda r: (r["module"], r["line"])):
                old, new = _changed_lines(r["diff"])
                tag = f" — **equivalent**: {r['reason']}" if r["reason"] else ""
                details.append(f"- `{r['module']}:{r['line']}` {r['operator']}"
                               f"#{r['occurrence']}: `{old}` → `{new}`{tag}")
            details.append("")
    named = HERE / "named_mutants.json"
    if named.exists():
        data = json.loads(named.read_text())
        details += ["## Hand-written mutants of issue 13 (`mutation/named_mutants.py`)", "",
                    f"Unmutated copy passes: {data['unmutated_copy_passes']}.", "",
                    "| mutant | file | killed by existing tests | killed by "
                    "tests/test_mutation_kills.py |", "| --- | --- | --- | --- |"]
        for m in data["mutants"]:
            details.append(f"| {m['id']} | {m.get('file', '')} | "
                           f"{m.get('killed_by_existing', m.get('error'))} | "
                           f"{m.get('killed_by_new', '')} |")
        details.append("")
    notes = HERE / "NOTES.md"
    if notes.exists():
        details += [notes.read_text()]
    (HERE / "REPORT.md").write_text("\n".join(lines + [""] + details) + "\n")
    print(f"wrote {HERE / 'REPORT.md'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("groups", nargs="*")
    ap.add_argument("--budget", type=float, default=None, help="minutes per group")
    ap.add_argument("--fresh", action="store_true")
    ap.add_argument("--report-only", action="store_true")
    ap.add_argument("--no-report", action="store_true",
                    help="leave REPORT.md alone (for runs of several groups side by side)")
    ap.add_argument("--rerun-survivors", action="store_true",
                    help="run each group's survivors again with the current tests")
    args = ap.parse_args()
    cfg = tomllib.loads((HERE / "groups.toml").read_text())
    names = args.groups or list(cfg["groups"])
    if not args.report_only:
        for name in names:
            if args.rerun_survivors:
                forget_survivors(name, cfg["groups"][name], cfg)
            run_group(name, cfg["groups"][name], cfg, args.budget, args.fresh)
    if not args.no_report:
        write_report(cfg)


if __name__ == "__main__":
    main()
