"""What reproduces: each of the paper's claims, per task, with this build's numbers and a computed verdict.

Salemi et al. make six claims that a build of the pipeline can test on its own numbers:

- ``a`` **no retriever dominates** (section 6.3, Figure 3): no personalization is a best choice on
  some inputs where the retrievers differ, and every retriever of the pool is beaten on some input;
- ``b`` **ROPG improves its initial retriever** (section 6.3, Table 3): ROPG-RL and ROPG-KD both
  beat the dense retriever they start from on the main metric;
- ``c`` **RSPG-Post >= RSPG-Pre >= the best single retriever** (section 6.3, Table 3), the single
  retrievers being the pool RSPG selects from;
- ``d`` **RSPG's success rate beats every QPP baseline** (section 6.4, Table 4), for both selectors;
- ``e`` **removing ROPG from the pool lowers RSPG** (section 6.5, Table 5), for both selectors;
- ``f`` **a gap to the oracle remains** (section 6.5, Table 5): the per-input oracle over the pool
  beats RSPG-Post.

A verdict is a comparison of values in the metric's direction (ties do not hold); the p-values of
the metric's test (McNemar for accuracy and success, paired t-test otherwise) stand beside it, with
``significant`` true when every comparison of the claim has p < ``alpha``. The paper's own verdict is
computed the same way from its printed tables (:mod:`lampkit.analysis.paper`) where they hold the
numbers: Table 3 for ``b`` and ``c``, Table 4 for ``d``, Tables 3 and 5 for ``f``, and the ranges its
text quotes for Figure 3 for ``a``; its RSPG-without-ROPG numbers are not stored, so ``e`` has none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from lampkit.analysis.methods import ROPG, SELECTORS
from lampkit.analysis.paper import paper_table
from lampkit.analysis.table3 import Table3
from lampkit.analysis.winning import winners, winning_rates
from lampkit.metrics.significance import mcnemar_test, p_value
from lampkit.pipeline import Context, Settings
from lampkit.ropg.stage import RopgSetup
from lampkit.rspg.stage import QPP_METHODS, RspgConfig, Selection, run_ablation, run_table3
from lampkit.store.io import atomic_write_json
from lampkit.store.report import TablesReport
from lampkit.tasks import get_task

__all__ = ["CLAIMS", "Claims", "claims", "paper_verdicts", "run_claims"]

CLAIMS: dict[str, str] = {
    "a": "no retriever dominates: no personalization wins on some inputs, every retriever loses on some",
    "b": "ROPG-RL and ROPG-KD improve the dense retriever they start from",
    "c": "RSPG-Post >= RSPG-Pre >= the best single retriever of the pool",
    "d": "RSPG-Pre's and RSPG-Post's success rates beat every QPP baseline",
    "e": "removing ROPG from the pool lowers RSPG-Pre and RSPG-Post",
    "f": "a gap to the oracle upper bound remains (the oracle beats RSPG-Post)",
}
# the paper's Table 3 columns for the pool's retrievers and the selectors
_PAPER_COLUMN = {"none": "no_personalization", "recency": "recency", "bm25": "bm25", "dense": "contriever",
                 "ropg-rl": "ropg_rl", "ropg-kd": "ropg_kd", "rspg-pre": "rspg_pre", "rspg-post": "rspg_post"}


def _better(a: float, b: float, higher: bool) -> bool:
    return bool(a > b) if higher else bool(a < b)


def _at_least(a: float, b: float, higher: bool) -> bool:
    return bool(a >= b) if higher else bool(a <= b)


def _numbers(values: Mapping[str, Any]) -> str:
    return "; ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in values.items())


def _record(task: str, claim: str, holds: bool, numbers: Mapping[str, Any], p: Mapping[str, float],
            alpha: float, paper: Mapping[tuple[str, str], bool | None]) -> dict[str, Any]:
    finite = [v for v in p.values() if not math.isnan(v)]
    return {"task": task, "claim": claim, "statement": CLAIMS[claim], "holds": bool(holds),
            "significant": bool(finite) and all(v < alpha for v in finite),
            "paper_holds": paper.get((task, claim)), "numbers": dict(numbers),
            "p_values": {k: float(v) for k, v in p.items()}}


def _claim_a(sel: Selection) -> tuple[bool, dict, dict]:
    higher = sel.higher_is_better
    m = np.asarray(sel.matrix, dtype=np.float64)
    wins = winners(m, higher)
    differ = m.max(axis=1) != m.min(axis=1)
    none = sel.pool.index("none")
    none_wins = int((wins[:, none] & differ).sum())
    signed = m if higher else -m
    beaten = [bool((np.delete(signed, j, axis=1).max(axis=1) > signed[:, j]).any()) for j in range(m.shape[1])]
    rates = winning_rates(sel.feedback, sel.task, sel.pool)["relative_rate"]
    numbers = {"inputs where none is a best choice and the pool differs": none_wins,
               "relative rate of none": float(rates.iloc[none]),
               "relative-rate spread (max - min)": float(rates.max() - rates.min()),
               "retrievers beaten on some input": f"{sum(beaten)} of {len(beaten)}"}
    return none_wins > 0 and all(beaten), numbers, {}


def _claim_b(task: str, table: Table3) -> tuple[bool, dict, dict]:
    t = get_task(task)
    row = (task, t.main_metric)
    dense = float(table.values.loc[row, "dense"])
    numbers, p, holds = {"dense": dense}, {}, True
    for method in ROPG:
        value = float(table.values.loc[row, method])
        numbers[method] = value
        holds &= _better(value, dense, t.higher_is_better)
        p[f"{method} vs dense"] = float(table.p_values.loc[(task, t.main_metric, method, "dense"), "p"])
    return holds, numbers, p


def _claim_c(sel: Selection) -> tuple[bool, dict, dict]:
    t = get_task(sel.task)
    metrics = sel.metrics()[t.main_metric]
    best = sel.best_single()
    post, pre, single = float(metrics["rspg-post"]), float(metrics["rspg-pre"]), float(metrics[best])
    holds = _at_least(post, pre, t.higher_is_better) and _at_least(pre, single, t.higher_is_better)
    p = {"rspg-post vs rspg-pre": p_value(sel.per_example("rspg-post"), sel.per_example("rspg-pre"), t.main_metric),
         f"rspg-pre vs {best}": p_value(sel.per_example("rspg-pre"), sel.per_example(best), t.main_metric)}
    return holds, {"rspg-post": post, "rspg-pre": pre, f"best single ({best})": single}, p


def _claim_d(sel: Selection) -> tuple[bool, dict, dict]:
    rates = sel.success_rates()
    best = max(QPP_METHODS, key=lambda m: rates[m])
    numbers = {f"best QPP ({best})": rates[best], **{m: rates[m] for m in SELECTORS}}
    holds = all(rates[m] > rates[q] for m in SELECTORS for q in QPP_METHODS)
    p = {f"{m} vs {best}": mcnemar_test(sel.successes(m), sel.successes(best)) for m in SELECTORS}
    return holds, numbers, p


def _claim_e(full: Selection, without: Selection) -> tuple[bool, dict, dict]:
    t = get_task(full.task)
    with_values, without_values = full.metrics()[t.main_metric], without.metrics()[t.main_metric]
    numbers, p, holds = {}, {}, True
    for m in SELECTORS:
        numbers[f"{m} with ROPG"] = float(with_values[m])
        numbers[f"{m} without ROPG"] = float(without_values[m])
        holds &= _better(float(with_values[m]), float(without_values[m]), t.higher_is_better)
        p[f"{m} with vs without"] = p_value(full.per_example(m), without.per_example(m), t.main_metric)
    return holds, numbers, p


def _claim_f(sel: Selection) -> tuple[bool, dict, dict]:
    t = get_task(sel.task)
    post = float(sel.metrics()[t.main_metric]["rspg-post"])
    m = np.asarray(sel.matrix, dtype=np.float64)
    oracle = float((m.max(axis=1) if t.higher_is_better else m.min(axis=1)).mean())
    return _better(oracle, post, t.higher_is_better), {"oracle upper bound (main metric)": oracle,
                                                        "rspg-post": post}, {}


def paper_verdicts() -> dict[tuple[str, str], bool | None]:
    """(task, claim) -> the paper's verdict, computed from its printed tables as this build's is."""
    table3, table4, table5 = paper_table("table3"), paper_table("table4"), paper_table("table5_oracle")
    ranges = paper_table("figure3_ranges").set_index("retriever")
    out: dict[tuple[str, str], bool | None] = {}
    for task in table3["task"].unique():
        t = get_task(task)
        rows = table3[(table3["task"] == task) & (table3["metric"] == t.main_metric)]
        if rows.empty:
            continue
        row, higher = rows.iloc[0], t.higher_is_better
        value = {m: float(row[c]) for m, c in _PAPER_COLUMN.items()}
        out[(task, "a")] = bool(ranges.loc["none", "low"] > 0)  # the text's range for no personalization
        out[(task, "b")] = all(_better(value[m], value["dense"], higher) for m in ROPG)
        single = max((value[m] for m in ("none", "recency", "bm25", "dense", *ROPG)),
                     key=lambda v: v if higher else -v)
        out[(task, "c")] = _at_least(value["rspg-post"], value["rspg-pre"], higher) and \
            _at_least(value["rspg-pre"], single, higher)
        t4 = table4[table4["task"] == task]
        if not t4.empty:
            r4 = t4.iloc[0]
            out[(task, "d")] = all(float(r4[s]) > float(r4[q]) for s in ("rspg_pre", "rspg_post") for q in QPP_METHODS)
        out[(task, "e")] = None  # the paper's RSPG-without-ROPG numbers are not among the stored tables
        t5 = table5[(table5["task"] == task) & (table5["metric"] == t.main_metric)]
        if not t5.empty:
            out[(task, "f")] = _better(float(t5.iloc[0]["oracle_upper"]), value["rspg-post"], higher)
    return out


@dataclass
class Claims(TablesReport):
    """The claims of every task (:func:`claims`): one record per task and claim.

    Its tables (:class:`~lampkit.store.report.Report`): ``claims`` (task x claim: holds, significant,
    the paper's verdict, the numbers and p-values in words) and ``summary`` (per task: how many
    claims hold here and in the paper's tables). :meth:`to_json` writes the records.
    """

    records: list[dict[str, Any]]
    split: str = "test"
    alpha: float = 0.05

    MODULES = ("lampkit.rspg.claims",)

    def frame(self) -> pd.DataFrame:
        rows = [{"task": r["task"], "claim": r["claim"], "holds": r["holds"], "significant": r["significant"],
                 "paper_holds": "" if r["paper_holds"] is None else ("yes" if r["paper_holds"] else "no"),
                 "numbers": _numbers(r["numbers"]), "p": _numbers(r["p_values"])} for r in self.records]
        return pd.DataFrame(rows, columns=["task", "claim", "holds", "significant", "paper_holds", "numbers",
                                           "p"]).set_index(["task", "claim"])

    def summary(self) -> pd.DataFrame:
        rows = []
        for task in dict.fromkeys(r["task"] for r in self.records):
            mine = [r for r in self.records if r["task"] == task]
            known = [r for r in mine if r["paper_holds"] is not None]
            rows.append({"task": task, "claims": len(mine), "hold here": sum(r["holds"] for r in mine),
                         "hold here and significant": sum(r["holds"] and r["significant"] for r in mine),
                         "paper's verdicts": len(known), "hold in the paper": sum(bool(r["paper_holds"]) for r in known),
                         "agree with the paper": sum(r["holds"] == r["paper_holds"] for r in known)})
        return pd.DataFrame(rows).set_index("task")

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"claims": self.frame(), "summary": self.summary()}

    def titles(self) -> dict[str, str]:
        return {"claims": f"What reproduces ({self.split} split; significant: every comparison p < {self.alpha:g})",
                "summary": "Claims that hold, per task"}

    def notes(self) -> list[str]:
        return ["Claims: " + "; ".join(f"({k}) {v}" for k, v in CLAIMS.items()) + "."]

    def to_json(self, path: str | Path) -> Path:
        """The records as a JSON list (task, claim, statement, holds, significant, paper_holds,
        numbers, p_values), written atomically."""
        path = Path(path)
        atomic_write_json(path, self.records, indent=1)
        return path


def claims(ablation: Mapping[str, Mapping[str, Selection]], table: Table3, split: str = "test",
           alpha: float = 0.05) -> Claims:
    """The six claims on every task of the full pool: ``ablation`` holds the pools ``full`` and
    ``no-ropg`` (:func:`lampkit.rspg.stage.run_ablation`), ``table`` is Table 3 on the same split
    (:func:`lampkit.rspg.stage.run_table3`)."""
    if not {"full", "no-ropg"} <= set(ablation):
        raise ValueError(f"the claims need the pools 'full' and 'no-ropg', got {sorted(ablation)}")
    paper = paper_verdicts()
    records = []
    for task, sel in ablation["full"].items():
        missing = [m for m in (*SELECTORS, *QPP_METHODS) if m not in sel.choices]
        if missing:
            raise ValueError(f"{task}: the claims need every selector and QPP baseline; missing {', '.join(missing)}")
        for claim, (holds, numbers, p) in (("a", _claim_a(sel)), ("b", _claim_b(task, table)), ("c", _claim_c(sel)),
                                           ("d", _claim_d(sel)), ("e", _claim_e(sel, ablation["no-ropg"][task])),
                                           ("f", _claim_f(sel))):
            records.append(_record(task, claim, holds, numbers, p, alpha, paper))
    return Claims(records, split, alpha)


def run_claims(ctx: Context | Settings, config: RspgConfig, ropg: RopgSetup, split: str = "test",
               alpha: float = 0.05) -> Claims:
    """:func:`claims` on every task of the context: the ablation's two pools
    (:func:`~lampkit.rspg.stage.run_ablation`) and Table 3 from its full pool
    (:func:`~lampkit.rspg.stage.run_table3`); everything cached is loaded, not recomputed."""
    ablation = run_ablation(ctx, config, ropg, split, with_ropg=True)
    table = run_table3(ctx, config, ropg, split, alpha, selections=ablation["full"])
    return claims(ablation, table, split, alpha)
