"""The mutation runner's own logic (mutation/run_selected.py and run.py): which tests a
mutant needs first, and which verdicts a later session may keep. Examples built by hand."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "mutation"))

import run  # noqa: E402
import run_selected as rs  # noqa: E402

SOURCE = '''import math

LIMIT = 3


@decorate(
    arg=1)
def f(x):
    if x > LIMIT:
        return math.sqrt(
            x + 1)
    return x


def g(y):
    return y * 2
'''


def test_changed_lines_are_the_lines_that_differ():
    assert rs.changed_lines("a\nb\nc\n", "a\nB\nc\n") == {2}
    assert rs.changed_lines("a\nb\nc\n", "a\nb\nc\n") == set()
    assert rs.changed_lines("a\nb\nc\nd\n", "A\nb\nc\nD\n") == {1, 4}


def test_a_mutant_is_widened_to_its_whole_statement():
    # line 11 (x + 1) belongs to the return that starts on line 10
    assert list(rs.statement_lines(SOURCE, 11)) == [10, 11]
    # an if's header is its own statement: not its body
    assert list(rs.statement_lines(SOURCE, 9)) == [9]
    # a decorator's argument belongs to the def's header (decorators to the def line)
    assert list(rs.statement_lines(SOURCE, 7)) == [6, 7, 8]
    assert rs.statement_lines(SOURCE, 5) is None  # a blank line: no statement


def _selected(tmp_path, monkeypatch, mutated: str, covmap: dict):
    (tmp_path / ".mutation" / "pristine").mkdir(parents=True, exist_ok=True)
    (tmp_path / ".mutation" / "pristine" / "m.py").write_text(SOURCE)
    (tmp_path / "m.py").write_text(mutated)
    monkeypatch.setattr(rs, "HERE", tmp_path)
    monkeypatch.setattr(rs, "META", tmp_path / ".mutation")
    return rs.selected_tests({"modules": ["m.py"]}, {"m.py": covmap})


def test_tests_that_ran_the_statement_come_first(tmp_path, monkeypatch):
    # coverage records the return under its first line (10); the mutant is on line 11
    covmap = {"10": ["t.py::test_big"], "9": ["t.py::test_big", "t.py::test_small"],
              "12": ["t.py::test_small"], "3": [""]}
    got = _selected(tmp_path, monkeypatch, SOURCE.replace("x + 1", "x - 1"), covmap)
    assert got == {"t.py::test_big"}
    # a line run only at import (""), with no test of its own: every test
    assert _selected(tmp_path, monkeypatch, SOURCE.replace("LIMIT = 3", "LIMIT = 4"),
                     covmap) is None
    # a line no test runs: every test (a survivor is called only after all of them pass)
    assert _selected(tmp_path, monkeypatch, SOURCE.replace("y * 2", "y * 3"), covmap) is None


def test_verdicts_survive_an_edit_in_another_function(tmp_path):
    mutants = [{"module": "m.py", "operator": "op", "occurrence": 0, "line": 9},   # in f
               {"module": "m.py", "operator": "op", "occurrence": 1, "line": 16},  # in g
               {"module": "m.py", "operator": "op", "occurrence": 2, "line": 3}]   # module
    before = run._verdict_keys(mutants, lambda _: SOURCE)
    edited = SOURCE.replace("return y * 2", "return y * 2  # doubled")
    after = run._verdict_keys(mutants, lambda _: edited)
    assert before[("m.py", "op", 0)] == after[("m.py", "op", 0)]  # f unchanged: kept
    assert before[("m.py", "op", 2)] == after[("m.py", "op", 2)]  # module lines unchanged
    assert before[("m.py", "op", 1)] != after[("m.py", "op", 1)]  # g edited: run again
    assert len(set(before.values())) == 3


def test_the_rank_of_a_mutant_counts_within_its_function():
    mutants = [{"module": "m.py", "operator": "op", "occurrence": k, "line": line}
               for k, line in enumerate((9, 12, 16))]
    keys = run._verdict_keys(mutants, lambda _: SOURCE)
    assert [keys[("m.py", "op", k)].rsplit("|", 1)[1] for k in range(3)] == ["0", "1", "0"]
    assert keys[("m.py", "op", 0)].split("|")[1] == "f"
    assert keys[("m.py", "op", 2)].split("|")[1] == "g"


def test_no_change_selects_nothing(tmp_path, monkeypatch):
    assert _selected(tmp_path, monkeypatch, SOURCE, {"9": ["t.py::x"]}) is None


def test_only_survivors_marked_equivalent_are_carried_over(tmp_path, monkeypatch):
    from types import SimpleNamespace

    (tmp_path / "m.py").write_text("from __future__ import annotations\n\n\n"
                                   "def h(x: int | None = None):\n    return 1 + 2\n")
    monkeypatch.setattr(run, "ROOT", tmp_path)
    add = SimpleNamespace(operator_name="core/ReplaceBinaryOperator_Add_Mul", occurrence=0,
                          start_pos=(5, 11))
    marked = [{"module": "m.py", "old": "return 1 + 2", "new": "1 * 2", "reason": "by hand"}]
    diff = run._equivalent_diff("m.py", add, marked)
    assert diff is not None and "-    return 1 + 2" in diff and "+    return 1 * 2" in diff
    assert run._equivalent_diff("m.py", add, []) is None  # not marked: run it again
    # a mutant inside an annotation needs no entry
    ann = SimpleNamespace(operator_name="core/ReplaceBinaryOperator_BitOr_Add", occurrence=0,
                          start_pos=(4, 9))
    assert "int + None" in run._equivalent_diff("m.py", ann, [])
