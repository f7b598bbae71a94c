"""ROPG as an experiment (chapter 03): feedback, training, and the trained retrievers against the initial one.

Per task, the first ``train_inputs`` training inputs get item feedback from the frozen LLM
(:func:`lampkit.feedback.item_feedback`: EVAL of the output with each of the initial dense
retriever's top l items alone, stored in the feedback store); ROPG-RL and ROPG-KD each train a
copy of the initial encoder on it (:func:`lampkit.ropg.method.train_ropg`). A checkpoint lives in the
artifact cache under ``ropg/<key>/model``, keyed by the training inputs, the LLM, the initial
encoder, the settings and the code, so a second call (the RSPG chapter's pool) loads it. Loaded,
a checkpoint is a :class:`~lampkit.retrievers.dense.Dense` retriever named ``ropg-rl`` or ``ropg-kd``
whose ``config`` names the weights' content, so feedback is stored per checkpoint.

The stage's configuration is :class:`~lampkit.ropg.config.RopgSetup`: how many training inputs, and the training
settings (:class:`~lampkit.ropg.config.RopgConfig`), with the presets ``book`` and ``paper``. Every
function that trains or loads a checkpoint takes it explicitly: chapters 04-06 pass the one they are
given, so the pool they select from holds the retrievers chapter 03 trained with the same settings.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from lampkit.store.digest import sha256_parts
from lampkit.store.cache import ArtifactCache
from lampkit.data.layout import Example
from lampkit.retrievers.embedding_cache import CachedEncoder, EmbeddingCache, default_cache_path
from lampkit.retrievers.encoders import DEFAULT_ENCODER, Encoder, default_device, load_encoder
from lampkit.pipeline import Context, Settings, context, metrics_by_retriever, run_pool
from lampkit.store.deps import depends_on
from lampkit.store.report import TablesReport
from lampkit.feedback import example_key, item_feedback, llm_key
from lampkit.analysis.paper import paper_table
from lampkit.retrievers import Dense
from lampkit.ropg.config import METHODS, RopgSetup, criterion_key
from lampkit.ropg.method import best_of_curve, train_ropg
from lampkit.ropg.retriever import FrozenStates, SharedLowerEncoders
from lampkit.metrics.significance import p_value
from lampkit.analysis.tables import PAPER_COLUMN
from lampkit.tasks import Task, get_task
from lampkit.metrics.lamp import PER_EXAMPLE_COLUMN

# RopgSetup lives in lampkit.ropg.config (importable from here too)
__all__ = ["ROPG_MODULES", "retriever_name", "initial_retriever", "train_examples", "train_feedback",
           "feedback_signal", "checkpoint", "checkpoints", "load_ropg", "ropg_retrievers", "RopgResults", "run_ropg",
           "comparison_table", "improvement_summary", "gains_beside_paper", "changed_example",
           "changed_example_markdown", "curves_chart", "dev_curves_chart"]

# code a checkpoint depends on: training, feedback (prompts, metrics), the dense retriever with what they
# import, and this module itself (its key and build)
ROPG_MODULES = depends_on("lampkit.ropg.method", "lampkit.feedback", "lampkit.retrievers.dense") + ("lampkit.ropg.stage",)
STAGE = "ropg"


# ----- settings -----------------------------------------------------------------------------
def retriever_name(method: str) -> str:
    """``rl`` -> ``ropg-rl``, ``kd`` -> ``ropg-kd``."""
    if method not in METHODS:
        raise ValueError(f"unknown ROPG method {method!r}; expected one of {METHODS}")
    return f"ropg-{method}"


# ----- feedback and checkpoints -------------------------------------------------------------
def initial_retriever(ctx: Context | Settings) -> Dense:
    """The retriever ROPG starts from: the pool's dense baseline (same encoder, same cache)."""
    return Dense(context(ctx).encoder)


def train_examples(ctx: Context | Settings, task: str | Task, setup: RopgSetup) -> list[Example]:
    """The training inputs: the first ``setup.train_inputs`` of the train split (all when None)."""
    return context(ctx).examples(task, "train")[: setup.train_inputs]


def train_feedback(ctx: Context | Settings, task: str | Task, setup: RopgSetup,
                   examples: Sequence[Example] | None = None) -> pd.DataFrame:
    """Item feedback of the training inputs (one row per input and top-l item of the initial retriever)."""
    ctx = context(ctx)
    t = get_task(task)
    examples = list(examples) if examples is not None else train_examples(ctx, t, setup)
    return item_feedback(t, examples, initial_retriever(ctx), ctx.llm(t), ctx.store, depth=setup.config.depth,
                         show_progress=ctx.settings.show_progress)


def feedback_signal(frame: pd.DataFrame) -> dict[str, float]:
    """How much there is to learn from an item feedback frame, averaged over its inputs.

    ``items``: items per input; ``top1``: EVAL with the initial top-1; ``mean``: EVAL of an
    item drawn uniformly; ``best``: EVAL of the best single item (what a perfect policy gets);
    ``differing_share``: share of inputs whose items do not all give the same EVAL. On the
    others RL's reward is zero, and KD's target is uniform: they pull the policy towards it.
    """
    groups = frame.groupby("example_id", sort=False)["eval"]
    top1 = frame[frame["position"] == 0]["eval"]
    return {"inputs": float(groups.ngroups), "items": float(groups.size().mean()), "top1": float(top1.mean()),
            "mean": float(groups.mean().mean()), "best": float(groups.max().mean()),
            "differing_share": float((groups.max() > groups.min()).mean())}


def _digest(task: Task, examples: Sequence[Example]) -> str:
    return sha256_parts(example_key(task, ex) for ex in examples)[:32]


def checkpoint(ctx: Context | Settings, task: str | Task, method: str, setup: RopgSetup,
               frozen: FrozenStates | None = None, cache: ArtifactCache | None = None) -> Path:
    """The folder of the ROPG-``method`` encoder for ``task``: trained on the first call, then loaded.

    The folder holds ``save_pretrained`` weights (safetensors), the tokenizer and ``ropg.json``
    (settings and training log): ``load_encoder(folder)`` reads it as any encoder. ``frozen``
    shares the frozen layers' outputs between the methods of one task (it changes no result).
    """
    ctx = context(ctx)
    t = get_task(task)
    retriever_name(method)
    config = dataclasses.replace(setup.config, device=setup.config.device or default_device())
    examples = train_examples(ctx, t, setup)
    llm = ctx.llm(t)
    initial = initial_retriever(ctx)
    key = {"task": t.name, "method": method, "train": _digest(t, examples), "train_inputs": len(examples),
           "llm": llm_key(llm), "initial": initial.config, "config": dataclasses.asdict(config)}

    def build(tmp: Path) -> None:
        frame = train_feedback(ctx, t, setup, examples)
        # loaded again under the training seed: weights a folder lacks get the same initialisation every run
        train_ropg(method, t, examples, frame, ctx.settings.encoder or DEFAULT_ENCODER, config, tmp / "model",
                   show_progress=ctx.settings.show_progress, frozen=frozen)

    return (cache or ArtifactCache()).get_or_build(STAGE, key, build, ROPG_MODULES) / "model"


def load_ropg(folders: Mapping[str, str | Path], initial: Encoder | None = None) -> list[Dense]:
    """Trained checkpoints (method -> folder) as pool retrievers ``ropg-<method>``, in the mapping's order.

    Each ranks like :class:`~lampkit.retrievers.dense.Dense` over its own weights behind the persistent
    embedding cache (``config`` names the weights' content). Checkpoints that trained the same top
    layers of one initial encoder share the frozen lower layers' pass
    (:class:`~lampkit.ropg.retriever.SharedLowerEncoders`). With ``initial`` (the encoder they were trained
    from, as loaded), the list starts with its ``dense`` retriever, which joins that shared pass:
    the three embeddings of a text cost the lower layers once.
    """
    cache = EmbeddingCache(default_cache_path())
    encoders = [load_encoder(str(f), device=str(initial.device) if initial else None) for f in folders.values()]
    names = [retriever_name(m) for m in folders]
    if initial is not None:
        encoders, names = [initial, *encoders], ["dense", *names]
    trained = {json.loads((Path(f) / "ropg.json").read_text())["config"]["train_layers"] for f in folders.values()}
    if len(encoders) > 1 and len(trained) == 1 and None not in trained:  # the same top N layers: BERT-like
        family = SharedLowerEncoders(encoders, len(encoders[0].model.encoder.layer) - trained.pop(), cache)
        text_encoders = [CachedEncoder(family.member(i), cache) for i in range(len(encoders))]
    else:
        text_encoders = [CachedEncoder(enc, cache) for enc in encoders]
    return [Dense(enc, name=name) for name, enc in zip(names, text_encoders)]


def checkpoints(ctx: Context | Settings, task: str | Task, setup: RopgSetup,
                methods: Sequence[str] = ("rl", "kd")) -> dict[str, Path]:
    """:func:`checkpoint` of each method (method -> folder); the methods share the frozen layers' pass."""
    ctx = context(ctx)
    frozen = FrozenStates()
    return {m: checkpoint(ctx, task, m, setup, frozen) for m in methods}


def ropg_retrievers(ctx: Context | Settings, task: str | Task, setup: RopgSetup,
                    methods: Sequence[str] = ("rl", "kd"), with_initial: bool = False) -> list[Dense]:
    """The ROPG retrievers of ``task`` (``ropg-rl``, ``ropg-kd``), trained once per setup and cached;
    ``with_initial``: the initial ``dense`` retriever first, sharing their frozen layers' pass."""
    ctx = context(ctx)
    initial = ctx.encoder.encoder if with_initial else None
    return load_ropg(checkpoints(ctx, task, setup, methods), initial)


# ----- the experiment -----------------------------------------------------------------------
@dataclass
class RopgResults(TablesReport):
    """Everything chapter 03 shows, per task.

    Its tables (:class:`~lampkit.store.report.Report`): ``signal`` (the training feedback),
    ``curves`` (the training logs), with a held-out share ``dev_curves`` (:meth:`dev_curve_table`) and
    ``training`` (:meth:`training_summary`), and per split run ``comparison_<split>`` (:func:`comparison_table`)
    and ``metrics_<split>`` (rows task x metric, columns dense and the ROPG retrievers); the text
    ends with :func:`improvement_summary` of each split.
    """

    MODULES = ("lampkit.ropg.stage",)
    NOT_IN_TEXT = frozenset({"curves", "dev_curves"})  # the chapter plots them (curves_chart, dev_curves_chart)

    methods: list[str]  # trained retrievers' names (ropg-rl, ropg-kd)
    setup: RopgSetup
    signal: pd.DataFrame  # per task: feedback_signal of the training feedback
    logs: dict[str, dict[str, list[dict[str, float]]]]  # task -> retriever -> training log
    checkpoints: dict[str, dict[str, Path]]  # task -> retriever -> folder
    feedback: dict[str, dict[str, pd.DataFrame]]  # task -> split -> pool feedback
    metrics: dict[str, dict[str, pd.DataFrame]]  # task -> split -> (retriever x metric)
    examples: dict[str, dict[str, list[Example]]]  # task -> split -> inputs
    # task -> retriever -> per epoch (0: before training) the held-out training inputs' metrics
    dev_curves: dict[str, dict[str, list[dict[str, float]]]] = field(default_factory=dict)

    @property
    def retrievers(self) -> list[str]:
        return ["dense", *self.methods]

    def dev_curve_table(self) -> pd.DataFrame:
        """The learning curves in long form: task, retriever, epoch, step and :func:`~lampkit.ropg.method.dev_metrics`."""
        rows = [{"task": t, "retriever": name, **entry} for t, per in self.dev_curves.items()
                for name, curve in per.items() for entry in curve]
        return pd.DataFrame(rows)

    def training_summary(self) -> pd.DataFrame:
        """Per task and retriever: optimizer steps and epochs run, the epoch kept (best value of the
        setup's dev criterion, 0: the initial weights) and that criterion before training, at its best
        epoch and at the last epoch run (how far the curve fell back after its best)."""
        criterion = self.setup.config.criterion
        label = {"expected": "E_pi[EVAL]", "top_k": f"EVAL@{self.setup.config.top_k}"}[criterion]
        rows = []
        for t, per in self.logs.items():
            for name, log in per.items():
                curve = self.dev_curves.get(t, {}).get(name) or []
                row = {"task": t, "retriever": name, "steps": len(log),
                       "epochs": (int(log[-1]["epoch"]) + 1) if log else 0}
                if curve:
                    best, key = best_of_curve(curve, criterion), criterion_key(criterion)
                    row.update({"best epoch": int(best["epoch"]), f"dev {label} before": curve[0][key],
                                f"dev {label} kept": best[key], f"dev {label} last": curve[-1][key]})
                rows.append(row)
        return pd.DataFrame(rows).set_index(["task", "retriever"])

    def curves(self) -> pd.DataFrame:
        """Training logs in long form: task, retriever, step, epoch, loss, expected_reward, reward."""
        rows = [{"task": t, "retriever": name, **entry} for t, per in self.logs.items()
                for name, log in per.items() for entry in log]
        return pd.DataFrame(rows)

    def comparison(self, split: str = "dev") -> pd.DataFrame:
        return comparison_table(self.feedback, self.metrics, split, self.methods)

    @property
    def splits(self) -> list[str]:
        return list(dict.fromkeys(s for per in self.metrics.values() for s in per))

    def tables(self) -> dict[str, pd.DataFrame]:
        from lampkit.analysis.tables import results_table

        out = {"signal": self.signal, "curves": self.curves()}
        if self.dev_curves:
            out["dev_curves"] = self.dev_curve_table()
            out["training"] = self.training_summary()
        for split in self.splits:
            out[f"comparison_{split}"] = self.comparison(split)
            out[f"metrics_{split}"] = results_table({t: per[split] for t, per in self.metrics.items()},
                                                    self.retrievers)
        return out

    def titles(self) -> dict[str, str]:
        out = {"signal": "Training feedback (per task)", "curves": "Training logs",
               "dev_curves": "Learning curves on the held-out training inputs",
               "training": "Training: steps, epochs and the epoch kept (best held-out E_pi[EVAL])"}
        for split in self.splits:
            out[f"comparison_{split}"] = f"ROPG against the initial dense retriever ({split} split, main metric)"
            out[f"metrics_{split}"] = f"Metrics ({split} split)"
        return out

    def notes(self) -> list[str]:
        return [improvement_summary(self.comparison(split), self.methods, split) for split in self.splits]

    def changed_examples(self, split: str = "dev") -> dict[str, str]:
        """Per task, markdown of the input where a ROPG retriever's new items gain most (:func:`changed_example`)."""
        out = {}
        for task, per in self.feedback.items():
            found = [c for c in (changed_example(per[split], task, name) for name in self.methods) if c is not None]
            if not found:
                out[task] = f"**{task}**: no ROPG retriever changed the prompt items of any {split} input."
                continue
            eid = max(found, key=lambda c: c[1])[0]  # the first method's on a tie
            example = next(ex for ex in self.examples[task][split] if str(ex.id) == eid)
            out[task] = changed_example_markdown(per[split], example, task, self.retrievers)
        return out


def run_ropg(ctx: Context | Settings, setup: RopgSetup, methods: Sequence[str] = ("rl", "kd"),
             splits: Sequence[str] = ("dev",)) -> RopgResults:
    """Item feedback, ROPG training and pool feedback of the initial retriever and ROPG on ``splits``."""
    ctx = context(ctx)
    names = [retriever_name(m) for m in methods]
    signal, logs, folders, feedback, metrics, examples, curves = [], {}, {}, {}, {}, {}, {}
    for t in ctx.tasks:
        signal.append({"task": t.name, **feedback_signal(train_feedback(ctx, t, setup))})
        trained = checkpoints(ctx, t, setup, methods)
        folders[t.name] = {retriever_name(m): f for m, f in trained.items()}
        records = {retriever_name(m): json.loads((f / "ropg.json").read_text()) for m, f in trained.items()}
        logs[t.name] = {name: r["log"] for name, r in records.items()}
        curves[t.name] = {name: r.get("dev_curve", []) for name, r in records.items()}
        pool = load_ropg(trained, initial=ctx.encoder.encoder)  # dense first
        feedback[t.name], metrics[t.name], examples[t.name] = {}, {}, {}
        for split in splits:
            exs = ctx.examples(t, split)
            df = run_pool(ctx, t, split, pool, exs)
            feedback[t.name][split], examples[t.name][split] = df, exs
            metrics[t.name][split] = metrics_by_retriever(df, t, exs)
    return RopgResults(names, setup, pd.DataFrame(signal).set_index("task"), logs, folders,
                       feedback, metrics, examples, curves)


# ----- tables and examples ------------------------------------------------------------------
def _changed_share(df: pd.DataFrame, name: str) -> float:
    """Share of inputs whose set of prompt items differs from the initial retriever's."""
    wide = df.pivot(index="example_id", columns="retriever", values="items")
    return float(np.mean([sorted(a) != sorted(b) for a, b in zip(wide["dense"], wide[name])]))


def comparison_table(feedback: dict[str, dict[str, pd.DataFrame]], metrics: dict[str, dict[str, pd.DataFrame]],
                     split: str, methods: Sequence[str], alpha: float = 0.05) -> pd.DataFrame:
    """Per task: the main metric of the initial retriever and of each ROPG retriever on ``split``.

    ``<name> gain`` is the difference to the initial retriever in the metric's better direction
    (positive: ROPG is better, also for LaMP-3's MAE); ``<name> p`` the p-value of the metric's
    paired test against the initial retriever (:func:`lampkit.metrics.significance.p_value`: McNemar for
    accuracy, a paired t-test otherwise); ``<name> changed`` the share of inputs whose prompt items
    differ from the initial retriever's; ``improved by`` the methods with a gain > 0, starred when
    ``p < alpha``.
    """
    rows = []
    for task, per in metrics.items():
        t = get_task(task)
        m = per[split]
        sign = t.sign
        column = PER_EXAMPLE_COLUMN[t.main_metric]
        scores = feedback[task][split].pivot(index="example_id", columns="retriever", values=column)
        row: dict[str, Any] = {"task": t.name, "metric": t.main_metric, "dense": float(m.loc["dense", t.main_metric])}
        improved = []
        for name in methods:
            row[name] = float(m.loc[name, t.main_metric])
            row[f"{name} gain"] = sign * (row[name] - row["dense"])
            row[f"{name} p"] = p_value({column: scores["dense"].to_numpy()}, {column: scores[name].to_numpy()},
                                       t.main_metric)
            row[f"{name} changed"] = _changed_share(feedback[task][split], name)
            if row[f"{name} gain"] > 0:
                improved.append(name + ("*" if row[f"{name} p"] < alpha else ""))
        row["improved by"] = ", ".join(improved) or "none"
        rows.append(row)
    return pd.DataFrame(rows).set_index("task")


def improvement_summary(table: pd.DataFrame, methods: Sequence[str], split: str = "dev", alpha: float = 0.05) -> str:
    """Sentences from a :func:`comparison_table`: how many tasks each method improves, and where none does."""
    n = len(table)
    gains = {name: table[f"{name} gain"] > 0 for name in methods}
    any_gain = np.logical_or.reduce([g.to_numpy() for g in gains.values()])
    per_method = ", ".join(f"{name} on {int(g.sum())}, {int((g & (table[f'{name} p'] < alpha)).sum())} of them "
                           f"significantly" for name, g in gains.items())
    lines = [f"On the {split} split, at least one ROPG retriever beats the initial dense retriever's main metric "
             f"on **{int(any_gain.sum())} of {n}** task(s) ({per_method}; p < {alpha:g}, starred in the table)."]
    for task, row in table[~any_gain].iterrows():
        values = ", ".join(f"{name} {row[name]:.4f}" for name in methods)
        lines.append(f"- **{task}** ({row['metric']}): no gain: dense {row['dense']:.4f}, {values}; the prompt "
                     "items changed on " + ", ".join(f"{100 * row[f'{name} changed']:.0f}%" for name in methods)
                     + " of the inputs.")
    return "\n".join(lines)


def gains_beside_paper(table: pd.DataFrame, methods: Sequence[str]) -> pd.DataFrame:
    """Each method's gain over the initial retriever (a :func:`comparison_table`) beside the paper's.

    The paper's gain is its ROPG column minus its Contriever column in Table 3, on the same main
    metric and in the same better direction; taken from :func:`lampkit.analysis.paper.paper_table`.
    """
    paper = paper_table("table3").set_index(["task", "metric"])
    cols = {}
    for name in methods:
        ours, theirs = [], []
        for task, row in table.iterrows():
            sign = get_task(task).sign
            p = paper.loc[(task, row["metric"])]
            ours.append(row[f"{name} gain"])
            theirs.append(sign * (p[PAPER_COLUMN[name]] - p[PAPER_COLUMN["dense"]]))
        cols[(f"{name} gain", "this build")] = ours
        cols[(f"{name} gain", "paper")] = theirs
    return pd.DataFrame(cols, index=table.index)


def changed_example(df: pd.DataFrame, task: str | Task, name: str) -> tuple[str, float] | None:
    """The input whose main metric gains most when ``name`` replaces the initial retriever's items, and the gain.

    The gain is signed so that positive is better (also for LaMP-3's absolute error). Only inputs
    whose prompt items changed count; ties go to the first input. None when no input's items changed.
    """
    t = get_task(task)
    column = PER_EXAMPLE_COLUMN[t.main_metric]
    sign = t.sign
    a = df[df["retriever"] == "dense"].set_index("example_id")
    b = df[df["retriever"] == name].set_index("example_id").loc[a.index]
    changed = [sorted(x) != sorted(y) for x, y in zip(a["items"], b["items"])]
    if not any(changed):
        return None
    gain = sign * (b[column].to_numpy(dtype=float) - a[column].to_numpy(dtype=float))
    gain = np.where(changed, gain, -np.inf)
    best = int(np.argmax(gain))
    return str(a.index[best]), float(gain[best])


def changed_example_markdown(df: pd.DataFrame, example: Example, task: str | Task, names: Sequence[str]) -> str:
    """Markdown of one input: for each retriever its items (initial rank order), the LLM's output and EVAL."""
    t = get_task(task)
    column = PER_EXAMPLE_COLUMN[t.main_metric]
    rows = df[df["example_id"] == str(example.id)].set_index("retriever")
    by_id = {str(item["id"]): item for item in example.profile}
    parts = [f"### {t.name}: input {example.id}\n", f"> {example.input}\n", f"**gold output**: {example.output}\n"]
    for name in names:
        r = rows.loc[name]
        items = "\n".join(f"  - `{i}`: {t.index_text(by_id[str(i)])}" for i in r["items"])
        parts.append(f"- **{name}** ({t.main_metric} {float(r[column]):.3f}) answered *{r['output']}* with the "
                     f"items:\n{items}")
    return "\n".join(parts)


def dev_curves_chart(curves: pd.DataFrame):
    """The learning curves of :meth:`RopgResults.dev_curve_table`: per task and epoch (0: before
    training), E_pi[EVAL], the top-1's EVAL and EVAL@k on the held-out training inputs, each method a
    line, the initial retriever's top-1 EVAL (EVAL@k in the EVAL@k panels) dashed."""
    import seaborn as sns

    values = [c for c in ("dev_expected_eval", "dev_top1_eval", "dev_topk_eval") if c in curves.columns]
    long = curves.melt(id_vars=["task", "retriever", "epoch"], value_vars=values,
                       var_name="quantity", value_name="value")
    sns.set_theme(style="whitegrid", context="notebook")
    grid = sns.relplot(data=long, x="epoch", y="value", hue="retriever", row="task", col="quantity", kind="line",
                       marker="o", height=2.0, aspect=2.2, facet_kws={"sharey": False, "sharex": False})
    initial = curves.groupby("task")["dev_initial_eval"].first()
    initial_k = curves.groupby("task")["dev_initial_topk_eval"].first() if "dev_initial_topk_eval" in curves else None
    for (task, quantity), ax in grid.axes_dict.items():
        line = initial_k[task] if quantity == "dev_topk_eval" and initial_k is not None else initial[task]
        ax.axhline(line, color="grey", linestyle="--", linewidth=1)
    grid.set_titles("{row_name}: {col_name}")
    grid.set_ylabels("")
    return grid


def curves_chart(curves: pd.DataFrame):
    """Loss and expected reward (E_pi[EVAL] - EVAL(initial top-1)) per optimizer step, per task and method."""
    import seaborn as sns

    long = curves.melt(id_vars=["task", "retriever", "step"], value_vars=["loss", "expected_reward"],
                       var_name="quantity", value_name="value")
    sns.set_theme(style="whitegrid", context="notebook")
    grid = sns.relplot(data=long, x="step", y="value", hue="retriever", row="task", col="quantity", kind="line",
                       height=2.0, aspect=2.2, facet_kws={"sharey": False, "sharex": False})
    grid.set_titles("{row_name}: {col_name}")
    grid.set_ylabels("")
    return grid
