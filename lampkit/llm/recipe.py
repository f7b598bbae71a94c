"""The embedded default LLM's recipe: a small T5 (:mod:`lampkit.llm.small_t5`) trained from scratch on
mini-LaMP, one model for all tasks.

Like FLAN-T5 it is a single multitask model: training steps take turns over the seven tasks
(a batch holds prompts of one task). Each prompt holds 0 to ``k_max`` profile entries chosen by one of five strategies, so the
model meets prompts like those of every retriever of the pool and learns to read the entries:

- ``none``: the bare input (no personalization);
- ``random``: random profile items;
- ``recent``: the newest items;
- ``bm25``: BM25's top items for the input's query;
- ``relevant``: items the generator marked as relevant to the input (``Example.extra``), topped
  up with random items; skipped for data without such marks (real LaMP).

The training examples come from mini-LaMP builds of other seeds than the one the pipeline
evaluates on (``data_seeds``, all three splits): the LLM is a pretrained model that has never
seen the evaluation users, and its feedback on the training inputs of the evaluation data (the
signal of ROPG and RSPG) is not that of a model that memorised their answers. Given real LaMP
files (``data_dir``) it trains on their train split.

Prompts are built by :meth:`lampkit.tasks.Task.build_prompt` with the model's own tokenizer, exactly as the
pipeline builds them. The forward pass runs under bfloat16 autocast (weights stay float32).

The folder also holds a model card (``README.md``) and ``training.json``: the command, seed,
data fingerprint, hyperparameters, the loss log and the dev metrics per task. Training is
deterministic: same data, seed, configuration and thread count give the same bytes on the same
kind of processor.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch

from lampkit.store.digest import tree_sha256
from lampkit.data.layout import SPLITS, Example, load_split
from lampkit.llm.small_t5 import (RELEVANT_KEY, STRATEGIES, TrainConfig, build_model, build_tokenizer,
                                  reader_head_parameters)
from lampkit.store.io import atomic_write_json
from lampkit.tasks import Task, get_task, resolve_tasks

__all__ = ["warmup_cosine", "relevant_indices", "select_items", "training_data", "dev_data", "train_small_llm",
           "train_per_task", "evaluate_dev", "train_cli"]


# ----- which profile items a training prompt holds ---------------------------------------------
def relevant_indices(example: Example) -> list[int]:
    """Profile indices the data generator marked as behind the output (``Example.extra``)."""
    ids = example.extra.get(RELEVANT_KEY) or []
    wanted = {str(i) for i in ids}
    return [j for j, item in enumerate(example.profile) if str(item["id"]) in wanted]


class _Rankers:
    """Recency's and BM25's orders of each profile (lampkit's retrievers), computed once per example."""

    def __init__(self) -> None:
        from lampkit.retrievers.bm25 import BM25
        from lampkit.retrievers.simple import Recency

        self.retrievers = {"recent": Recency(), "bm25": BM25()}
        self._orders: dict[tuple[str, str, int], list[int]] = {}

    def order(self, strategy: str, key: tuple[str, int], task: Task, ex: Example) -> list[int]:
        full = (strategy, *key)
        if full not in self._orders:
            self._orders[full] = [int(i) for i in self.retrievers[strategy].rank(task, ex).order]
        return self._orders[full]


def select_items(strategy: str, k: int, task: Task, ex: Example, key: tuple[str, int], rng: np.random.Generator,
                 rankers: _Rankers) -> list[int]:
    """Profile indices (in prompt order) of one training prompt with at most ``k`` entries.

    ``relevant`` puts between one and all of the marked items (at most ``k``) among random
    others, in random order; without marked items it falls back to random items.
    """
    n = len(ex.profile)
    k = min(k, n)
    if strategy == "none" or k == 0:
        return []
    if strategy in ("recent", "bm25"):
        return rankers.order(strategy, key, task, ex)[:k]
    if strategy == "relevant":
        rel = relevant_indices(ex)
        if rel:
            n_rel = int(rng.integers(1, min(k, len(rel)) + 1))
            chosen = [int(i) for i in rng.permutation(rel)[:n_rel]]
            others = [int(i) for i in rng.permutation(n) if int(i) not in chosen][: k - n_rel]
            mixed = chosen + others
            return [mixed[int(i)] for i in rng.permutation(len(mixed))]
        strategy = "random"
    if strategy == "random":
        return [int(i) for i in rng.choice(n, size=k, replace=False)]
    raise ValueError(f"unknown strategy {strategy!r}; expected one of {STRATEGIES}")


# ----- data --------------------------------------------------------------------------------------
def training_data(tasks: Sequence[Task], data_dir: str | Path | None, scale: str,
                  data_seeds: Sequence[int]) -> tuple[dict[str, tuple[Task, list[Example]]], dict[str, Any]]:
    """Training examples per task and a description of where they come from (with fingerprints).

    Without ``data_dir``: every split of the mini-LaMP builds ``data_seeds`` at ``scale``;
    with it: the train split of the LaMP files there.
    """
    data: dict[str, tuple[Task, list[Example]]] = {}
    if data_dir is None:
        from lampkit.data import synth

        for task in tasks:
            examples = []
            for s in data_seeds:
                splits = synth.generate_task(task, scale, s)
                examples += [ex for split in SPLITS for ex in splits[split]]
            data[task.name] = (task, examples)
        source = {"source": f"mini-LaMP scale {scale}, seeds {list(data_seeds)}, splits {list(SPLITS)}",
                  "fingerprints": {str(s): _fingerprint(s, scale, tasks) for s in data_seeds}}
    else:
        for task in tasks:
            data[task.name] = (task, load_split(data_dir, task, "train"))
        source = {"source": str(data_dir), "fingerprints": {"files": tree_sha256(data_dir)}}
    for name, (_, examples) in data.items():
        if not examples:
            raise ValueError(f"no training examples for {name} ({source['source']})")
    source["train_examples"] = {name: len(exs) for name, (_, exs) in data.items()}
    return data, source


def _fingerprint(seed: int, scale: str, tasks: Sequence[str | Task] | None = None) -> str:
    """The fingerprint of the files of ``tasks`` (default: all, the build's own fingerprint) in the mini-LaMP
    build ``seed``, from its manifest (generated once into the artifact cache). A model trained on one task
    records that task's, so a change in another task's data does not touch its card."""
    from lampkit.data.sources import mini_lamp_dir
    from lampkit.data.synth import MANIFEST
    from lampkit.data.synth.writer import tasks_fingerprint

    manifest = json.loads((mini_lamp_dir(scale, seed) / MANIFEST).read_text(encoding="utf-8"))
    return str(manifest["fingerprint"]) if tasks is None else tasks_fingerprint(manifest, tasks)


def dev_data(tasks: Sequence[Task], data_dir: str | Path | None, scale: str, eval_seed: int,
             limit: int) -> dict[str, list[Example]]:
    """The first ``limit`` dev inputs per task: of the evaluation mini-LaMP, or of ``data_dir``."""
    if data_dir is None:
        from lampkit.data import synth

        return {t.name: synth.generate_task(t, scale, eval_seed)["dev"][:limit] for t in tasks}
    return {t.name: load_split(data_dir, t, "dev")[:limit] for t in tasks}


def _training_texts(data: dict[str, tuple[Task, list[Example]]]) -> Iterator[str]:
    for task, examples in data.values():
        for ex in examples:
            yield ex.input
            yield ex.output or ""
            for item in ex.profile:
                yield task.entry(item)
        yield task.fixed_suffix


def _plan(data: dict[str, tuple[Task, list[Example]]], config: TrainConfig,
          rng: np.random.Generator) -> list[tuple[str, int, str, int]]:
    """(task, example index, strategy, k) of every training prompt, in training order.

    Tasks take turns batch by batch (equal share whatever their size; a batch holds prompts of
    one task, so of similar length); each task walks through its examples in a fresh random
    order per epoch.
    """
    weights = np.asarray(config.strategy_weights, dtype=np.float64)
    has_relevant = {name: any(relevant_indices(ex) for ex in exs) for name, (_, exs) in data.items()}
    names = list(data)
    orders = {name: [] for name in names}
    plan = []
    for n in range(config.steps * config.batch_size):
        name = names[(n // config.batch_size) % len(names)]
        if not orders[name]:
            orders[name] = [int(i) for i in rng.permutation(len(data[name][1]))]
        w = weights.copy()
        if not has_relevant[name]:
            w[STRATEGIES.index("relevant")] = 0.0
        strategy = STRATEGIES[int(rng.choice(len(STRATEGIES), p=w / w.sum()))]
        k = int(rng.integers(1, config.k_max + 1))
        plan.append((name, orders[name].pop(), strategy, k))
    return plan


# ----- training ----------------------------------------------------------------------------------
def warmup_cosine(step: int, peak: float, warmup_steps: int, steps: int) -> float:
    """The small T5's learning rate at ``step`` (0-based) of ``steps``: a linear warm-up to ``peak``
    over ``warmup_steps``, then cosine decay to a tenth of the peak (used by the long-form generator too)."""
    if step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, steps - warmup_steps)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def _lr_at(step: int, config: TrainConfig) -> float:
    return warmup_cosine(step, config.lr, config.warmup_steps, config.steps)


def train_small_llm(out_dir: str | Path, data_dir: str | Path | None = None, scale: str = "default",
                    seed: int = 0, config: TrainConfig | None = None, tasks: str | Sequence[str] = "all",
                    eval_seed: int = 0, command: str | None = None, evaluate: bool = True,
                    log: Callable[[str], None] | None = print, **overrides: Any) -> Path:
    """Train the embedded LLM and save it, with its tokenizer and model card, in ``out_dir``.

    ``data_dir``: real LaMP files (default: mini-LaMP builds of ``config.data_seeds`` at
    ``scale``); the model card's dev metrics use the dev split of ``data_dir`` or of the
    mini-LaMP of ``eval_seed``. ``overrides`` replace fields of ``config`` (e.g. ``steps=100``).
    """
    config = dataclasses.replace(config or TrainConfig(), **overrides)
    if data_dir is None and eval_seed in config.data_seeds:
        raise ValueError(f"data_seeds {config.data_seeds} include the evaluation seed {eval_seed}: "
                         "the LLM would be trained on the users it is evaluated on")
    task_list = resolve_tasks(tasks)
    say = log or (lambda _msg: None)
    data, source = training_data(task_list, data_dir, scale, config.data_seeds)

    threads = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    try:
        tokenizer = build_tokenizer(_training_texts(data), config.vocab_size)
        torch.manual_seed(seed)
        model = build_model(config, len(tokenizer), [tokenizer.convert_tokens_to_ids(t) for t in ("1", "2")])
        n_params = sum(p.numel() for p in model.parameters())
        say(f"T5 with {n_params:,} parameters, vocabulary {len(tokenizer):,}; {config.steps} steps of "
            f"{config.batch_size} prompts over {len(data)} task(s), "
            f"{sum(source['train_examples'].values()):,} training inputs")
        loss_log, lengths = _train(model, tokenizer, data, config, seed, say)
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(out)
        tokenizer.save_pretrained(out)
        record: dict[str, Any] = {
            "command": command or "lampkit.llm.recipe.train_small_llm",
            "seed": seed,
            "data": source,
            "config": dataclasses.asdict(config),
            "parameters": n_params,
            "vocab_size": len(tokenizer),
            "prompt_tokens": lengths,
            "log": loss_log,
        }
        if evaluate:
            dev = dev_data(task_list, data_dir, scale, eval_seed, config.eval_examples)
            record["dev"] = {"source": f"{data_dir or f'mini-LaMP scale {scale} seed {eval_seed}'} dev",
                             "metrics": evaluate_dev(out, dev, config)}
    finally:
        torch.set_num_threads(threads)
    atomic_write_json(out / "training.json", record)
    (out / "README.md").write_text(_model_card(record), encoding="utf-8")
    say(f"saved to {out}")
    return out


def train_per_task(out_dir: str | Path, tasks: str | Sequence[str] = "all", jobs: int = 1,
                   log: Callable[[str], None] | None = print, **kwargs: Any) -> Path:
    """One small T5 per task in ``out_dir/<task>`` (each by :func:`train_small_llm` with ``kwargs``),
    and an index model card ``out_dir/README.md`` with every task's dev metrics.

    ``jobs`` > 1 trains that many tasks at once in separate processes (each with
    ``config.threads`` threads; results do not depend on ``jobs``).
    """
    out = Path(out_dir)
    names = [t.name for t in resolve_tasks(tasks)]
    if jobs > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [pool.submit(train_small_llm, out / name, tasks=name, log=None, **kwargs) for name in names]
            for name, future in zip(names, futures):
                future.result()
                if log:
                    log(f"{name}: saved to {out / name}")
    else:
        for name in names:
            train_small_llm(out / name, tasks=name, log=log, **kwargs)
    records = {name: json.loads((out / name / "training.json").read_text(encoding="utf-8"))
               for name in sorted(p.parent.name for p in out.glob("*/training.json"))}
    (out / "README.md").write_text(_index_card(records), encoding="utf-8")
    return out


def _index_card(records: dict[str, dict[str, Any]]) -> str:
    lines = ["# mini-t5: lampkit's embedded frozen LLM, one small T5 per task", "",
             "Each folder holds a T5 trained from scratch by lampkit on one task's training prompts "
             "(see its README.md for the command, seed, data fingerprints, hyperparameters and loss log). "
             "`lampkit.pipeline.get_llm(None, beams, task)` loads the task's folder through "
             "`AutoModelForSeq2SeqLM.from_pretrained`, as it loads FLAN-T5.", "",
             "| task | parameters | steps | loss (last) | dev: no profile | dev: BM25 top 4 |", "|---|---|---|---|---|---|"]
    for name, r in records.items():
        dev = r.get("dev", {}).get("metrics", {}).get(name, {})
        first = lambda d: ", ".join(f"{m} {v:.4f}" for m, v in list(d.items())[:1])  # noqa: E731
        lines.append(f"| {name} | {r['parameters']:,} | {r['config']['steps']} | {r['log'][-1]['loss']:.4f} | "
                     f"{first(dev.get('none', {}))} | {first(dev.get('bm25', {}))} |")
    lines.append("")
    return "\n".join(lines)


def _train(model, tokenizer, data: dict[str, tuple[Task, list[Example]]], config: TrainConfig, seed: int,
           say: Callable[[str], None]) -> tuple[list[dict[str, float]], dict[str, float]]:
    """The optimisation loop; returns the loss log and prompt length statistics."""
    from lampkit.tasks import HFTokenCounter

    rng = np.random.default_rng(seed)
    plan = _plan(data, config, rng)
    rankers = _Rankers()
    counter = HFTokenCounter(tokenizer)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    kept = reader_head_parameters(model) if config.reader_heads else []
    model.train()
    log: list[dict[str, float]] = []
    running, seen, lengths = 0.0, 0, []
    start = time.perf_counter()  # for the progress lines only; nothing saved depends on it
    for step in range(config.steps):
        prompts, targets = [], []
        for name, i, strategy, k in plan[step * config.batch_size:(step + 1) * config.batch_size]:
            task, ex = data[name][0], data[name][1][i]
            chosen = select_items(strategy, k, task, ex, (name, i), rng, rankers)
            prompts.append(task.build_prompt(ex.input, [ex.profile[j] for j in chosen], counter,
                                             config.max_input_length))
            targets.append(ex.output or "")
        enc = tokenizer(prompts, max_length=config.max_input_length, truncation=True, padding=True,
                        return_tensors="pt")
        lengths.extend(int(n) for n in enc["attention_mask"].sum(dim=1))
        labels = tokenizer(targets, max_length=config.max_target_length, truncation=True, padding=True,
                           return_tensors="pt")["input_ids"]
        labels[labels == tokenizer.pad_token_id] = -100
        for group in optimizer.param_groups:
            group["lr"] = _lr_at(step, config)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=config.bf16):
            loss = model(**enc, labels=labels).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip_norm)
        optimizer.step()
        with torch.no_grad():
            for param, mask, values in kept:  # the reader heads stay as initialised
                param[mask] = values
        running += loss.item()
        seen += 1
        if (step + 1) % config.log_every == 0 or step + 1 == config.steps:
            entry = {"step": step + 1, "loss": round(running / seen, 4), "lr": round(_lr_at(step, config), 6)}
            log.append(entry)
            say(f"step {entry['step']:>6}  loss {entry['loss']:.4f}  lr {entry['lr']:.2e}  "
                f"({time.perf_counter() - start:.0f} s)")
            running, seen = 0.0, 0
    model.eval()
    arr = np.asarray(lengths)
    stats = {"mean": round(float(arr.mean()), 1), "p99": int(np.percentile(arr, 99)), "max": int(arr.max())}
    return log, stats


# ----- evaluation and model card ------------------------------------------------------------------
def evaluate_dev(model_dir: str | Path, dev: dict[str, list[Example]], config: TrainConfig,
                 k: int = 4) -> dict[str, dict[str, dict[str, float]]]:
    """Metrics per task of the saved model without profile and with BM25's top ``k`` entries."""
    from lampkit.llm.seq2seq import Seq2SeqLLM
    from lampkit.metrics.lamp import aggregate

    llm = Seq2SeqLLM.load(model_dir, device="cpu", dtype="float32", beams=config.eval_beams,
                          max_new_tokens=config.max_target_length, max_input_length=config.max_input_length)
    rankers = _Rankers()
    results: dict[str, dict[str, dict[str, float]]] = {}
    for name, examples in dev.items():
        if not examples:
            continue
        task = get_task(name)
        golds = [ex.output or "" for ex in examples]
        prompts = {"none": [ex.input for ex in examples], "bm25": []}
        for i, ex in enumerate(examples):
            top = rankers.order("bm25", (name, i), task, ex)[:k]
            prompts["bm25"].append(task.build_prompt(ex.input, [ex.profile[j] for j in top], llm.counter,
                                                     config.max_input_length))
        results[name] = {
            label: {m: round(v, 4) for m, v in aggregate(task, llm.generate(ps), golds).items()}
            for label, ps in prompts.items()
        }
    return results


def _model_card(record: dict[str, Any]) -> str:
    c = record["config"]
    tasks = list(record["data"]["train_examples"])
    trained_on = "all seven LaMP tasks at once" if len(tasks) == 7 else ", ".join(tasks)
    lines = [
        "# mini-t5: lampkit's embedded frozen LLM",
        "",
        f"A small T5 ({c['feed_forward']} feed-forward, tied embeddings) trained from scratch by lampkit on the",
        f"training prompts of {trained_on}, each prompt holding 0 to {c['k_max']} profile entries chosen",
        "by a mix of strategies (none, random, newest, BM25 top, items the generator marked relevant),",
        "so that it learns to read the entries. It stands in for FLAN-T5 on the synthetic mini-LaMP:",
        "load it with `lampkit.llm.seq2seq.Seq2SeqLLM.load(<this folder>)` or `AutoModelForSeq2SeqLM`.",
    ]
    if c.get("reader_heads"):
        lines += [
            "",
            "Two attention heads of the encoder's first block started with a role and were kept fixed during",
            "training (`--reader-heads`, `lampkit.llm.small_t5.init_reader_heads`): *found* (does this token occur",
            "elsewhere in the prompt?) and *marker* (the nearest reference number before the token). Without",
            "them this small model, trained from scratch, did not learn to compare LaMP-1's two references",
            "with the profile entries.",
        ]
    lines += [
        "",
        "## Training",
        "",
        f"- command: `{record['command']}`",
        f"- seed: {record['seed']}",
        f"- data: {record['data']['source']}",
        *[f"  - fingerprint {key}: `{value}`" for key, value in record["data"]["fingerprints"].items()],
        f"- training inputs per task: {record['data']['train_examples']}",
        f"- parameters: {record['parameters']:,}; vocabulary: {record['vocab_size']:,} (BPE over words)",
        f"- prompt length in tokens: mean {record['prompt_tokens']['mean']}, "
        f"99th percentile {record['prompt_tokens']['p99']}, max {record['prompt_tokens']['max']}",
        "",
        "| hyperparameter | value |",
        "|---|---|",
    ]
    lines += [f"| {key} | {value} |" for key, value in c.items()]
    if "dev" in record:
        lines += ["", f"## Dev metrics ({record['dev']['source']}: first {c['eval_examples']} inputs per task, "
                  f"beam {c['eval_beams']})", "", "| task | profile | metric | value |", "|---|---|---|---|"]
        for task, by_prompt in record["dev"]["metrics"].items():
            for name, metrics in by_prompt.items():
                lines += [f"| {task} | {name} | {m} | {v:.4f} |" for m, v in metrics.items()]
    lines += ["", "## Loss", "", "| step | loss |", "|---|---|"]
    lines += [f"| {e['step']} | {e['loss']:.4f} |" for e in record["log"]]
    lines.append("")
    return "\n".join(lines)


_CLI_OPTIONS = ("out", "data_dir", "scale", "seed", "eval_seed", "task", "steps", "batch_size", "data_seeds",
                "strategy_weights", "jobs")


def train_cli(args: Any) -> int:
    """``lampkit llm train``: ``--out DIR [--per-task [--jobs N]] [--data-dir DIR] [--scale S] [--seed N]
    [--eval-seed N] [--task T] [--steps N] [--batch-size N] [--data-seeds 1,2,..] [--strategy-weights W,..]
    [--reader-heads] [--quick]`` (``args`` holds those names)."""
    quick = bool(getattr(args, "quick", False))
    per_task = bool(getattr(args, "per_task", False))
    config = TrainConfig.quick() if quick else TrainConfig()
    overrides = {name: getattr(args, name) for name in ("steps", "batch_size") if getattr(args, name, None) is not None}
    for name, kind, what in (("data_seeds", int, "integers"), ("strategy_weights", float, "numbers")):
        value = getattr(args, name, None)
        if value:
            try:
                overrides[name] = tuple(kind(v) for v in str(value).split(","))
            except ValueError:
                flag = "--" + name.replace("_", "-")
                raise ValueError(f"{flag}: expected comma-separated {what}, got {value!r}") from None
    reader = bool(getattr(args, "reader_heads", False))
    if reader:
        overrides["reader_heads"] = True
    options = [f"--{name.replace('_', '-')} {getattr(args, name)}" for name in _CLI_OPTIONS
               if getattr(args, name, None) is not None]
    flags = [flag for flag, on in (("--per-task", per_task), ("--quick", quick), ("--reader-heads", reader)) if on]
    command = " ".join(["lampkit llm train", *options, *flags])
    kwargs = dict(data_dir=args.data_dir, scale=args.scale, seed=args.seed, config=config, eval_seed=args.eval_seed,
                  command=command, **overrides)
    if per_task:
        out = train_per_task(args.out, tasks=args.task, jobs=getattr(args, "jobs", None) or 1, **kwargs)
    else:
        out = train_small_llm(args.out, tasks=args.task, **kwargs)
    print(f"model written to {out}")
    return 0
