"""Benchmark: peak memory and time of a forecast for a large LA, against naive in the same run.

A synthetic LA with about 6,000 children looked after (``cobic synth --population 600000``,
ten years of returns) is forecast 5 years ahead with 1,000 paths by ``stockflow`` and, as the
baseline, by ``naive`` on the same returns (which costs the reading of the returns and the
imports). Each forecast runs as its own ``cobic forecast`` process; its peak resident memory
is read with the standard library's ``resource`` module. Target: stockflow within 500 MiB.

Usage::

    python benchmarks/bench_memory.py [--paths 1000] [--horizon 5]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"
COBIC = Path(sys.executable).parent / "cobic"
# runs one command and prints its peak RSS (kB on Linux): the only child of this wrapper
_PEAK = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
         "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(r.returncode)")


def peak(args: list[str]) -> tuple[float, float]:
    """Peak memory (MiB) and wall time (s) of ``cobic ARGS`` in a fresh process."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _PEAK, str(COBIC), *args],
                          capture_output=True, text=True, check=True)
    took = time.perf_counter() - t0
    return int(proc.stdout.strip().splitlines()[-1]) / 1024, took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--paths", type=int, default=1000)
    ap.add_argument("--horizon", type=int, default=5)
    args = ap.parse_args()
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as d:
        la = Path(d) / "large_la"
        subprocess.run([str(COBIC), "synth", "--out", str(la), "--population", "600000"],
                       check=True, capture_output=True)
        common = ["forecast", "--episodes", str(la), "--horizon", str(args.horizon),
                  "--paths", str(args.paths), "--seed", "1"]
        rows = {}
        for model in ("naive", "stockflow"):
            mib, secs = peak([*common, "--model", model, "--out", str(Path(d) / f"{model}.csv")])
            rows[model] = {"peak_mib": round(mib, 1), "seconds": round(secs, 2)}
    sf, nv = rows["stockflow"], rows["naive"]
    print(f"Large LA (about 6,000 in care), {args.horizon} years x {args.paths:,} paths")
    for m, r in rows.items():
        print(f"  {m:10s} peak {r['peak_mib']:7.1f} MiB   {r['seconds']:6.2f} s")
    print(f"  stockflow / naive: memory x{sf['peak_mib'] / nv['peak_mib']:.2f}, "
          f"time x{sf['seconds'] / nv['seconds']:.2f}; target peak <= 500 MiB: "
          f"{'met' if sf['peak_mib'] <= 500 else 'NOT met'}")
    (OUT / "memory.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
