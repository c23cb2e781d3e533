"""The hand-written mutants of issue 13, each applied to a COPY of the project and run against
(a) the existing fast tests of its module and (b) ``tests/test_mutation_kills.py`` alone.

    python mutation/named_mutants.py            # all; writes mutation/named_mutants.json
    python mutation/named_mutants.py hybrid     # the mutants whose id contains "hybrid"

A mutant is killed by a selection when pytest fails on it; the script first checks that the
unmutated copy passes both selections. The copy is in ``$MUTATION_WORKDIR/named``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = Path(os.environ.get("MUTATION_WORKDIR", "/tmp/cobic-mutation")) / "named"
KILLS = "tests/test_mutation_kills.py"
CONTRACT = ["tests/test_rules_kernel.py", "tests/test_contract_defects.py",
            "tests/test_contract.py", "tests/test_multiyear.py"]
DEMAND = ["tests/test_demand.py", "tests/test_model_selection.py", "tests/test_stockflow_thin.py"]
DATA = ["tests/test_derive_by_hand.py", "tests/test_ssda903_sample.py",
        "tests/test_ssda903_hardening.py", "tests/test_malformed.py"]

R = "cobic/contract/rules.py"
MUTANTS = [  # id, file, original text, mutated text, existing tests
    ("pricing-gate-inverted", R, "blocked = (~reaches(comp, terms.quality_gate)",
     "blocked = (reaches(comp, terms.quality_gate)", CONTRACT),
    ("reaches-ge-to-le", R, "return np.asarray(x, dtype=float) >= t - TOLERANCE",
     "return np.asarray(x, dtype=float) <= t - TOLERANCE", CONTRACT),
    ("settlement-gate-strict", R, "blocked = (~reaches(comp, terms.quality_gate)",
     "blocked = (~(comp > terms.quality_gate)", CONTRACT),
    ("reaches-strict-above", R,
     "return np.asarray(x, dtype=float) >= t - TOLERANCE * np.maximum(1.0, np.abs(t))",
     "return np.asarray(x, dtype=float) > t + TOLERANCE * np.maximum(1.0, np.abs(t))", CONTRACT),
    ("hybrid-one-minus-rate", R, "target = cap + terms.marginal_rate * rate * outside",
     "target = cap + (1 - terms.marginal_rate) * rate * outside", CONTRACT),
    ("first-dollar-ge-to-gt", R, "reached = mask & reaches(x, fd[0])",
     "reached = mask & (x > fd[0])", CONTRACT),
    ("kansas-weights-reversed", "cobic/contract/mechanisms.py",
     "KANSAS_WEIGHTS = (1.0, 0.66, 0.29)", "KANSAS_WEIGHTS = (0.29, 0.66, 1.0)", CONTRACT),
    ("forecast-q10-q90-swapped", "cobic/demand/base.py",
     "qs = np.array(list(QUANTILES.values()))",
     "qs = np.array(list(QUANTILES.values()))[[0, 3, 2, 1, 4]]", DEMAND),
    ("stockflow-trend-sign", "cobic/demand/stockflow.py",
     "lam = lam * np.exp(ent[:, n_ab:n_ab + 1] * (year - self.origin))",
     "lam = lam * np.exp(-ent[:, n_ab:n_ab + 1] * (year - self.origin))", DEMAND),
    ("stay-half-strength", "cobic/demand/scenarios.py",
     "return 1.0 / (1.0 + self.stay_change)", "return 1.0 / (1.0 + self.stay_change / 2)",
     DEMAND),
    ("age-not-on-birthday", "cobic/data/dates.py",
     "on.dt.day().cast(pl.Int32)) < (", "on.dt.day().cast(pl.Int32)) <= (", DATA),
    ("accuracy-gate-2x-mape", "cobic/demand/api.py", 'if r["mape"] > s["mape"]:',
     'if r["mape"] > 2 * s["mape"]:', DEMAND),
    ("quality-changed-counts-unchanged", "cobic/data/ssda903.py",
     'changed=pl.col("change").is_not_null().sum()', 'changed=pl.col("change").is_null().sum()',
     DATA + ["tests/test_demo.py"]),
]


def _pytest(tests: list[str]) -> tuple[bool, float]:
    t0 = time.time()
    res = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                          *tests], cwd=WORK, capture_output=True, text=True,
                         env=os.environ | {"PYTHONPATH": str(WORK)})
    return res.returncode == 0, time.time() - t0


def main() -> None:
    want = sys.argv[1:]
    if WORK.exists():
        shutil.rmtree(WORK)
    shutil.copytree(ROOT, WORK, ignore=shutil.ignore_patterns(
        ".venv", ".git", "screenshots", "__pycache__", ".pytest_cache", "__marimo__"))
    results = []
    for mid, path, old, new, existing in MUTANTS:
        if want and not any(w in mid for w in want):
            continue
        src = (WORK / path).read_text()
        if src.count(old) != 1:
            results.append({"id": mid, "error": f"original text found {src.count(old)} times"})
            print(mid, "SKIPPED: original text not found once")
            continue
        (WORK / path).write_text(src.replace(old, new))
        try:
            ok_old, t_old = _pytest(existing)
            ok_new, t_new = _pytest([KILLS])
        finally:
            (WORK / path).write_text(src)
        row = {"id": mid, "file": path, "killed_by_existing": not ok_old,
               "killed_by_new": not ok_new, "seconds": round(t_old + t_new, 1)}
        results.append(row)
        print(row)
    base_ok = all(_pytest(sel)[0] for sel in ([KILLS], CONTRACT[:2]))
    out = {"unmutated_copy_passes": base_ok, "mutants": results}
    (HERE / "named_mutants.json").write_text(json.dumps(out, indent=1) + "\n")
    print("unmutated copy passes:", base_ok)


if __name__ == "__main__":
    main()
