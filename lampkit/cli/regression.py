"""``lampkit regression --write`` / ``--check``: the stages' tables at the tiny scale, kept and compared.

The tier runs each stage command of :data:`STAGES` (the baselines, ROPG, RSPG, the ablation,
Table 3 and the claims on LaMP-2, the baselines also on LaMP-3, and long-form
writing) as a fresh ``python -m lampkit`` process at
``LAMPKIT_SCALE=tiny`` with the embedded models, in an empty artifact cache (nothing is loaded
from an earlier run), and saves its tables (``--save``, :mod:`lampkit.store.report`).

- ``--write`` stores them under ``tests/regression/expected/<stage>/``, with ``provenance.json``:
  the command line, the git commit, the code's fingerprint, the host's CPU (``lscpu`` model name)
  and the date;
- ``--check`` computes them afresh and compares them with the stored ones, reporting every
  differing cell by stage, table, row and column, and every missing or extra table, row or column.

Tolerance. Strings, booleans and integers (counts, names of the best method, significance markers,
success flags) must be equal. Floats must agree within an absolute 1e-6. The same seed gives the
same tables bit for bit on the same host (the CSV files hold each float's round-trip repr), so on
the host that wrote them the check is exact in practice; the tolerance lets through what another
host's BLAS, CPU kernels or library versions change in the last bits of a mean, while at the tiny
scale one changed prediction moves a metric by 1/n (n: tens of inputs), orders of magnitude more.
A float is compared with the tolerance only when both values are floats; NaN equals NaN.

Measured times (the long-form stage's ``timings`` table) differ on every run: they are not stored
and not compared. Only the embedded models and data are used, so the tier needs no network.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

if TYPE_CHECKING:  # pandas loads on first use: `lampkit --help` stays fast
    import pandas as pd

from lampkit.store.io import atomic_write_json
from lampkit.store.report import PROVENANCE, read_tables

__all__ = ["STAGES", "ATOL", "EXPECTED", "Difference", "compare_tables", "compare_folders", "run_stages",
           "write_expected", "check", "host_cpu", "add_cli"]

ATOL = 1e-6
TASKS = "lamp2"  # ROPG, RSPG and Table 3: one task keeps the tier to minutes on two cores
BASELINE_TASKS = "lamp2,lamp3"  # the baselines also on a task whose metric is an error (MAE)
# stage -> its command's arguments (each run with --save into the stage's folder)
STAGES: dict[str, tuple[str, ...]] = {
    "baselines": ("baselines", "--task", BASELINE_TASKS, "--eval-split", "dev"),
    "ropg": ("ropg", "--task", TASKS, "--eval-split", "dev"),
    "rspg": ("rspg", "--task", TASKS, "--eval-split", "dev"),
    "ablation": ("ablation", "--task", TASKS, "--eval-split", "dev"),
    "table3": ("table3", "--task", TASKS, "--eval-split", "dev"),
    "claims": ("claims", "--task", TASKS, "--eval-split", "dev"),
    "longform": ("longform", "run", "--scale", "tiny"),
}
EXPECTED = Path(__file__).resolve().parents[2] / "tests" / "regression" / "expected"


# ----- comparison ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Difference:
    """One difference between the stored tables and fresh ones (``row``/``column`` None for a whole table)."""

    stage: str
    table: str
    row: Any
    column: Any
    expected: Any
    actual: Any
    what: str = "cell"  # cell, missing table, extra table, missing row, extra row, missing column, extra column

    def __str__(self) -> str:
        where = f"{self.stage}/{self.table}"
        if self.what == "cell":
            return f"{where} row {self.row!r} column {self.column!r}: expected {self.expected!r}, got {self.actual!r}"
        if self.what.endswith("table"):
            return f"{where}: {self.what}"
        label = self.row if self.what.endswith("row") else self.column
        return f"{where}: {self.what} {label!r}"


def _is_float(value: Any) -> bool:
    return isinstance(value, float) and not isinstance(value, bool)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def cells_equal(expected: Any, actual: Any, atol: float = ATOL) -> bool:
    """Exact for strings, booleans and integers; within ``atol`` for two floats (NaN equals NaN)."""
    expected, actual = _plain(expected), _plain(actual)
    if _is_float(expected) and _is_float(actual):
        if math.isnan(expected) or math.isnan(actual):
            return math.isnan(expected) and math.isnan(actual)
        return abs(expected - actual) <= atol
    if _is_float(expected) and math.isnan(expected) or _is_float(actual) and math.isnan(actual):
        return False  # an empty cell against a value
    return type(expected) is type(actual) and expected == actual


def compare_tables(expected: Mapping[str, pd.DataFrame], actual: Mapping[str, pd.DataFrame], stage: str = "",
                   atol: float = ATOL) -> list[Difference]:
    """Every difference between two sets of named tables (rows matched by index label, columns by name)."""
    out: list[Difference] = []
    for name in expected:
        if name not in actual:
            out.append(Difference(stage, name, None, None, None, None, "missing table"))
    for name in actual:
        if name not in expected:
            out.append(Difference(stage, name, None, None, None, None, "extra table"))
    for name, want in expected.items():
        if name not in actual:
            continue
        got = actual[name]
        rows = [r for r in want.index if r in got.index]
        out += [Difference(stage, name, r, None, None, None, "missing row") for r in want.index if r not in got.index]
        out += [Difference(stage, name, r, None, None, None, "extra row") for r in got.index if r not in want.index]
        out += [Difference(stage, name, None, c, None, None, "missing column") for c in want.columns
                if c not in got.columns]
        out += [Difference(stage, name, None, c, None, None, "extra column") for c in got.columns
                if c not in want.columns]
        columns = [c for c in want.columns if c in got.columns]
        for r in rows:
            for c in columns:
                a, b = want.at[r, c], got.at[r, c]
                if not cells_equal(a, b, atol):
                    out.append(Difference(stage, name, r, c, _plain(a), _plain(b)))
    return out


def compare_folders(expected: Path, actual: Path, stage: str = "", atol: float = ATOL) -> list[Difference]:
    """:func:`compare_tables` of the tables saved in two folders (measured tables left out)."""
    return compare_tables(read_tables(expected), read_tables(actual), stage, atol)


# ----- running the stages -------------------------------------------------------------------
def host_cpu() -> str | None:
    """The host's CPU model (``lscpu``'s model name), or None where lscpu is missing."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10, env={**os.environ, "LC_ALL": "C"})
    except (OSError, subprocess.SubprocessError):
        return None
    for line in out.stdout.splitlines():
        if line.strip().startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return None


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(EXPECTED.parents[2]), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return (out.stdout.strip() or None) if out.returncode == 0 else None


def stage_env(cache: Path) -> dict[str, str]:
    """The environment of a stage run: tiny scale, an empty cache, offline, float32 encoders."""
    return {**os.environ, "LAMPKIT_SCALE": "tiny", "LAMPKIT_CACHE": str(cache), "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "LAMPKIT_ENCODER_DTYPE": "float32",
            "PYTHONPATH": os.pathsep.join([str(EXPECTED.parents[2]), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}


def run_stages(out: Path, stages: Sequence[str] = tuple(STAGES), log=print) -> dict[str, float]:
    """Run each stage's command with ``--save out/<stage>`` in one fresh cache; seconds per stage."""
    out = Path(out)
    seconds = {}
    with tempfile.TemporaryDirectory(prefix="lampkit-regression-") as tmp:
        env = stage_env(Path(tmp) / "cache")
        for stage in stages:
            argv = [*STAGES[stage], "--save", str(out / stage)]
            log(f"[regression] LAMPKIT_SCALE=tiny lampkit {' '.join(argv)}")
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "lampkit", *argv], env=env, capture_output=True, text=True)
            seconds[stage] = round(time.perf_counter() - start, 1)
            if proc.returncode != 0:
                raise RuntimeError(f"stage {stage} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n"
                                   f"{proc.stderr[-4000:]}")
    return seconds


def _stage_provenance(folder: Path, stage: str, seconds: float) -> dict[str, Any]:
    info = json.loads((folder / PROVENANCE).read_text(encoding="utf-8"))
    return {**info, "command": "LAMPKIT_SCALE=tiny lampkit " + " ".join(STAGES[stage]), "git_commit": git_commit(),
            "host": host_cpu(), "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "seconds": seconds, "tolerance": {"float_abs": ATOL, "other": "exact"}}


def write_expected(expected: Path = EXPECTED, stages: Sequence[str] = tuple(STAGES), log=print) -> None:
    """Run the stages and store their tables (measured tables left out) under ``expected/<stage>``."""
    with tempfile.TemporaryDirectory(prefix="lampkit-regression-out-") as tmp:
        seconds = run_stages(Path(tmp), stages, log)
        for stage in stages:
            fresh, target = Path(tmp) / stage, Path(expected) / stage
            info = _stage_provenance(fresh, stage, seconds[stage])
            if target.exists():
                shutil.rmtree(target)
            target.mkdir(parents=True)
            for name, meta in info["tables"].items():
                if not meta["measured"]:
                    shutil.copyfile(fresh / f"{name}.csv", target / f"{name}.csv")
            info["tables"] = {n: m for n, m in info["tables"].items() if not m["measured"]}
            atomic_write_json(target / PROVENANCE, info, indent=1)
            log(f"[regression] {stage}: {len(info['tables'])} table(s) written to {target} ({seconds[stage]} s)")


def check(expected: Path = EXPECTED, stages: Sequence[str] | None = None, log=print) -> list[Difference]:
    """Run the stages stored under ``expected`` (or ``stages``) and compare their tables with the stored ones."""
    expected = Path(expected)
    stages = list(stages) if stages else [s for s in STAGES if (expected / s / PROVENANCE).exists()]
    if not stages:
        raise FileNotFoundError(f"no stored tables under {expected}: run `lampkit regression --write` first")
    with tempfile.TemporaryDirectory(prefix="lampkit-regression-out-") as tmp:
        seconds = run_stages(Path(tmp), stages, log)
        diffs: list[Difference] = []
        for stage in stages:
            found = compare_folders(expected / stage, Path(tmp) / stage, stage)
            stored = json.loads((expected / stage / PROVENANCE).read_text(encoding="utf-8"))
            now = json.loads((Path(tmp) / stage / PROVENANCE).read_text(encoding="utf-8"))
            code = "same code" if stored["fingerprint"]["code"] == now["fingerprint"]["code"] else \
                "code changed since the tables were written"
            log(f"[regression] {stage}: {len(found)} difference(s) ({code}; {seconds[stage]} s)")
            diffs += found
    return diffs


# ----- command line -------------------------------------------------------------------------
def _cmd(args: argparse.Namespace) -> int:
    stages = args.stages.split(",") if args.stages else None
    unknown = [s for s in stages or () if s not in STAGES]
    if unknown:
        print(f"error: unknown stage(s) {', '.join(unknown)}; stages: {', '.join(STAGES)}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    if args.write:
        write_expected(args.expected, stages or tuple(STAGES))
        print(f"[regression] written in {time.perf_counter() - start:.0f} s")
        return 0
    diffs = check(args.expected, stages)
    for d in diffs:
        print(str(d))
    print(f"[regression] {'OK' if not diffs else f'{len(diffs)} difference(s)'} "
          f"(floats within {ATOL:g}, other cells exact) in {time.perf_counter() - start:.0f} s")
    return 0 if not diffs else 1


def add_cli(sub: Any) -> None:
    """``lampkit regression --write | --check`` on argparse's subparsers ``sub``."""
    p = sub.add_parser("regression", help="the stages' tables at the tiny scale: store them (--write) or compare "
                       "fresh ones with the stored ones (--check)", description=__doc__.split("\n\n")[0])
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="run the stages and store their tables")
    mode.add_argument("--check", action="store_true", help="run the stages and compare with the stored tables")
    p.add_argument("--expected", type=Path, default=EXPECTED, help=f"the stored tables (default: {EXPECTED})")
    p.add_argument("--stages", default=None, help=f"comma-separated stages (default: all; {', '.join(STAGES)})")
    p.set_defaults(func=_cmd)
