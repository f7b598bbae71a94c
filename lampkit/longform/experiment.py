"""Chapter 07's orchestration: data, rankings, the generators of every configuration, scores.

Stages go through :class:`lampkit.store.cache.ArtifactCache`, so a second run (or another chapter
with the same settings) loads instead of recomputing:

- ``longform-data``: the embedded long-form data of (scale, seed) (skipped for ``data_dir``);
- ``longform-base``: the base generator, pre-trained on a mixture of input formats
  (:func:`lampkit.longform.pipeline.mixture`) over the documents of other mini-LaMP seeds
  (``base_seeds``; with ``data_dir``: its train split): our stand-in for a pretrained LLM. lampkit
  ships one (:data:`EMBEDDED_BASE`, written by ``lampkit longform train-base``), used unless the
  settings ask to pre-train here;
- ``longform-generator``: per configuration, the base fine-tuned on the training inputs of that
  configuration (with the author-distinction pairs for the multitask one), plus its outputs on
  the evaluation split and their scores.

Embeddings of the dense rankers live in lampkit's embedding cache. Every artifact records how
long it took to build (``timing.json``); the chapter shows those measured times.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import pandas as pd
import torch

from lampkit.longform.config import EMBEDDED_SEEDS, LongformSettings  # (importable from here too)
from lampkit.store.digest import sha256_parts
from lampkit.store.cache import ArtifactCache
from lampkit.store.deps import depends_on
from lampkit.retrievers.encoders import folder_id
from lampkit.store.io import atomic_write_json
from lampkit.store.report import TablesReport, tables_text
from lampkit.longform import synth
from lampkit.longform.data import SPLITS, Document, LongformExample, build_examples, data_root, load_documents, split_path
from lampkit.longform.generator import GeneratorConfig, author_pairs, load_generator, train_generator
from lampkit.longform.metrics import METRIC_NAMES, METRICS, aggregate, markers, per_example
from lampkit.longform.pipeline import PipelineConfig, build_inputs, chapter_configs, mixture
from lampkit.longform.rankers import Entry, make_rankers
from lampkit.longform.synthesis import DocumentFrequencies

__all__ = ["EMBEDDED_BASE", "LongformResults", "data_folder", "documents", "load", "pretrain_base",
           "synthetic_base_corpus", "base_generator", "run_config", "run"]

EMBEDDED_BASE = Path(__file__).resolve().parent / "base"  # the shipped base generator (when present)

# the code each stage depends on: its modules and what they import (a change there rebuilds its artifacts)
DATA_MODULES = depends_on("lampkit.longform.data", "lampkit.longform.synth")
BASE_MODULES = depends_on("lampkit.longform.data", "lampkit.longform.synth", "lampkit.longform.snippets",
                          "lampkit.longform.rankers", "lampkit.longform.synthesis", "lampkit.longform.generator",
                          "lampkit.longform.pipeline")
GENERATOR_MODULES = depends_on(*BASE_MODULES, "lampkit.longform.metrics")


# ----- data --------------------------------------------------------------------------------
def data_folder(settings: LongformSettings, cache: ArtifactCache | None = None) -> Path:
    """The folder of split files: ``data_dir``'s, or the embedded data written once into the cache."""
    if settings.data_dir:
        path = data_root(settings.data_dir)
        if not path.is_dir():
            raise FileNotFoundError(f"data_dir {str(path)!r} is not a folder")
        return path
    return _synthetic_folder(settings.scale, settings.seed, cache or ArtifactCache())


def _synthetic_folder(scale: str, seed: int, cache: ArtifactCache) -> Path:
    def build(tmp: Path) -> None:
        synth.write_longform(tmp, seed=seed, scale=scale)

    folder = cache.get_or_build("longform-data", {"scale": scale, "seed": seed}, build, DATA_MODULES)
    return folder / synth.LONGFORM_DIR


def _fingerprint(folder: Path, splits: Sequence[str]) -> str:
    return "sha256:" + sha256_parts(split.encode() + b"\0" + split_path(folder, split).read_bytes()
                                    for split in splits)


def documents(settings: LongformSettings, cache: ArtifactCache | None = None) -> dict[str, list[Document]]:
    """The documents of every split present in the data folder."""
    folder = data_folder(settings, cache)
    return {s: load_documents(split_path(folder, s)) for s in SPLITS if split_path(folder, s).exists()}


def load(settings: LongformSettings, cache: ArtifactCache | None = None) -> dict[str, list[LongformExample]]:
    """The train examples (``train_targets`` per author) and the evaluation split (one per author)."""
    folder = data_folder(settings, cache)
    out = {}
    for split, targets in (("train", settings.train_targets), (settings.eval_split, 1)):
        path = split_path(folder, split)
        out[split] = build_examples(load_documents(path), targets, source=path)
    return out


# ----- stages --------------------------------------------------------------------------------
def _timed(build: Callable[[Path], None]) -> Callable[[Path], None]:
    def wrapped(tmp: Path) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        build(tmp)
        atomic_write_json(tmp / "timing.json", {"wall_s": round(time.perf_counter() - wall, 2),
                                                "cpu_s": round(time.process_time() - cpu, 2)})
    return wrapped


def pretrain_base(out_dir: str | Path, examples: Sequence[LongformExample], texts: Sequence[str],
                  config: GeneratorConfig, source: str, fingerprint: str,
                  log: Callable[[str], None] | None = None) -> Path:
    """Pre-train a base generator on the mixture of input formats; write it with a model card and
    ``data.json`` (where its data came from and the data's ``fingerprint``)."""
    inputs, targets = mixture(examples, DocumentFrequencies(texts), seed=0, pair_chars=config.pair_chars)
    out = train_generator(out_dir, inputs, targets, config, seed=0, log=log)
    atomic_write_json(out / "data.json", {"source": source, "fingerprint": fingerprint}, indent=1)
    record = json.loads((out / "training.json").read_text(encoding="utf-8"))
    (out / "README.md").write_text(
        "# The base generator of lampkit's chapter 07\n\n"
        "A small T5 (lampkit's small-T5 recipe) pre-trained from scratch to finish a passage in its author's "
        "voice, on a mixture of input formats (lampkit.longform.pipeline.mixture: no past passages, newest "
        "documents first, BM25's documents, documents or snippets ranked by BM25 over lower-cased words or in "
        "random order; summary and key elements each present half of the time) and author-distinction pairs. "
        "Chapter 07 fine-tunes it once per pipeline configuration.\n\n"
        f"- data: {source}\n- training inputs: {record['train_inputs']}\n"
        f"- parameters: {record['parameters']:,}; vocabulary: {record['vocab_size']:,}\n"
        + "".join(f"- {k}: {v}\n" for k, v in record["config"].items())
        + "\n| step | loss |\n|---|---|\n"
        + "".join(f"| {e['step']} | {e['generation']:.4f} |\n" for e in record["loss"]),
        encoding="utf-8")
    return out


def synthetic_base_corpus(seeds: Sequence[int], scale: str,
                          targets: int) -> tuple[list[LongformExample], list[str], str]:
    """Examples (``targets`` per author, every split), texts and the fingerprint (sha256 of every
    document record) of the embedded data of ``seeds``."""
    examples, texts, parts = [], [], []
    for s in seeds:
        for split, docs in synth.generate(s, scale).items():
            examples += build_examples(docs, targets, source=f"seed {s} {split}")
            texts += [d.text for d in docs]
            parts.append(_records_text(docs))
    return examples, texts, "sha256:" + sha256_parts(parts)


def synthetic_fingerprint(seeds: Sequence[int], scale: str) -> str:
    """The fingerprint :func:`synthetic_base_corpus` gives for ``seeds`` and ``scale``."""
    return "sha256:" + sha256_parts(_records_text(docs) for s in seeds for docs in synth.generate(s, scale).values())


def _records_text(docs) -> str:
    """The documents' records as JSON lines (keys sorted): what the fingerprints hash."""
    return "".join(json.dumps(d.record(), sort_keys=True) + "\n" for d in docs)


def embedded_base_is_current(folder: Path | None = None) -> bool:
    """Whether ``folder`` (default :data:`EMBEDDED_BASE`) holds a base generator pre-trained on the
    data that the generator writes today (the fingerprint in its ``data.json``)."""
    folder = folder or EMBEDDED_BASE
    record = folder / "data.json"
    if not (folder / "config.json").exists() or not record.exists():
        return False
    stored = json.loads(record.read_text(encoding="utf-8"))
    return stored.get("fingerprint") == synthetic_fingerprint(EMBEDDED_SEEDS, "default")


def base_generator(settings: LongformSettings, cache: ArtifactCache | None = None) -> Path:
    """The folder of the base generator that every configuration fine-tunes.

    ``base_model``: ``"embedded"``, the one shipped in :data:`EMBEDDED_BASE` (written by
    ``lampkit longform train-base``), or, when lampkit ships none or the data generator has
    changed since it was trained (its ``data.json`` fingerprint), as ``"train"``; ``"train"``:
    pre-trained here for ``base_steps`` on the embedded data of ``base_seeds`` (with ``data_dir``:
    on its train split) and cached; any other value: a folder holding a saved generator.
    """
    if settings.base_model == "embedded" and embedded_base_is_current():
        return EMBEDDED_BASE
    if settings.base_model not in ("embedded", "train"):
        folder = Path(settings.base_model).expanduser()
        if not (folder / "config.json").exists():
            raise FileNotFoundError(f"base_model {str(folder)!r} holds no saved generator (config.json)")
        return folder
    cache = cache or ArtifactCache()
    if settings.data_dir:
        path = split_path(data_folder(settings, cache), "train")
        source: dict[str, Any] = {"data": _fingerprint(path.parent, ["train"])}
    else:
        source = {"seeds": list(settings.base_seeds), "scale": settings.scale}

    def build(tmp: Path) -> None:
        if settings.data_dir:
            docs = load_documents(path)
            examples, texts = build_examples(docs, settings.base_targets, source=path), [d.text for d in docs]
            fingerprint = source["data"]
        else:
            examples, texts, fingerprint = synthetic_base_corpus(settings.base_seeds, settings.scale,
                                                                 settings.base_targets)
        pretrain_base(tmp / "model", examples, texts, settings.base, json.dumps(source), fingerprint)

    key = {**source, "targets": settings.base_targets, "config": settings.base}
    artifact = cache.get_or_build("longform-base", key, _timed(build), BASE_MODULES)
    return artifact / "model"


def _rankings(settings: LongformSettings, names: Sequence[str],
              data: dict[str, list[LongformExample]]) -> dict[str, dict[str, list[list[Entry]]]]:
    """ranker -> split -> ranked entries per example."""
    dense = {"RankDocDense", "RankSnippet", "RankDocBySnpt"} & set(names)
    encoder = None
    if dense:
        from lampkit.pipeline import get_encoder

        encoder = get_encoder(settings.encoder)
    out: dict[str, dict[str, list[list[Entry]]]] = {}
    for ranker in make_rankers(encoder, names):
        if hasattr(ranker, "show_progress"):
            ranker.show_progress = settings.show_progress
        out[ranker.name] = {split: ranker.rank_many(exs) for split, exs in data.items()}
    return out


def _encoder_id(settings: LongformSettings, config: PipelineConfig) -> str | None:
    if config.ranker not in ("RankDocDense", "RankSnippet", "RankDocBySnpt"):
        return None
    from lampkit.pipeline import get_encoder

    return get_encoder(settings.encoder).model_id


def run_config(settings: LongformSettings, config: PipelineConfig, data: dict[str, list[LongformExample]],
               entries: dict[str, list[list[Entry]]] | None, dfs: DocumentFrequencies, base: Path,
               fingerprint: str, cache: ArtifactCache | None = None) -> Path:
    """Fine-tune the base on ``config``'s training inputs; write the evaluation outputs and scores.

    The artifact holds the model, ``inputs.json`` / ``predictions.json`` (evaluation split),
    ``scores.csv`` (per example) and ``timing.json``.
    """
    cache = cache or ArtifactCache()
    key = {"data": fingerprint, "base": folder_id(base), "pipeline": config.as_dict(),
           "encoder": _encoder_id(settings, config), "train_targets": settings.train_targets,
           "eval_split": settings.eval_split, "config": settings.finetune}

    def build(tmp: Path) -> None:
        split = settings.eval_split
        train_in = build_inputs(config, data["train"], entries["train"] if entries else None, dfs)
        aux = None
        if config.multitask:
            train_docs = {d.id: d for ex in data["train"] for d in ex.past}
            aux = author_pairs(list(train_docs.values()), len(train_in), seed=settings.seed,
                               max_chars=settings.finetune.pair_chars)
        model_dir = tmp / "model"
        train_generator(model_dir, train_in, [ex.target for ex in data["train"]], settings.finetune,
                        seed=settings.seed, aux=aux, init=base)
        eval_in = build_inputs(config, data[split], entries[split] if entries else None, dfs)
        generator = load_generator(model_dir, settings.finetune)
        threads = torch.get_num_threads()
        torch.set_num_threads(settings.threads)
        try:
            preds = generator.generate(eval_in, batch_size=50)
        finally:
            torch.set_num_threads(threads)
        atomic_write_json(tmp / "inputs.json", eval_in)
        atomic_write_json(tmp / "predictions.json", preds)
        per_example(preds, [ex.target for ex in data[split]]).to_csv(tmp / "scores.csv", index=False)

    return cache.get_or_build("longform-generator", key, _timed(build), GENERATOR_MODULES)


# ----- results -------------------------------------------------------------------------------
@dataclass
class LongformResults(TablesReport):
    """Everything chapter 07 shows.

    Its tables (:class:`~lampkit.store.report.Report`): ``rankers`` and ``ablation`` (each
    configuration's metrics, as fractions), ``rankers_markers`` and ``ablation_markers`` (the
    1-based positions of the baselines each cell beats, as in :meth:`table`) and ``timings``
    (measured seconds: saved, left out of a regression check).
    """

    rankers: list[PipelineConfig]
    ablation: list[PipelineConfig]
    examples: list[LongformExample]  # the evaluation split
    inputs: dict[str, list[str]]
    predictions: dict[str, list[str]]
    scores: dict[str, pd.DataFrame]  # configuration -> per-example scores
    metrics: pd.DataFrame  # configuration x metric (corpus BLEU, mean ROUGE)
    timings: pd.DataFrame  # stage -> measured seconds when it was built
    entries: dict[str, list[list[Entry]]] = field(default_factory=dict)  # ranker -> evaluation entries
    dfs: DocumentFrequencies | None = None  # the IDF reference of the key elements (train documents)
    base: str = ""  # which base generator the configurations fine-tuned

    MODULES = ("lampkit.longform.experiment",)
    MEASURED = frozenset({"timings"})

    def _names(self, which: str) -> list[str]:
        return [c.name for c in (self.rankers if which == "rankers" else self.ablation)]

    def marker_table(self, which: str = "rankers", baselines: Sequence[str] | None = None) -> pd.DataFrame:
        """The markers of :meth:`table` alone: configurations x metrics, the baselines beaten."""
        names = self._names(which)
        if baselines is None:
            baselines = [names[0], "RecentDoc"] if which == "rankers" else names[:-1]
        marks = markers({n: self.scores[n] for n in names}, self.metrics.loc[names], baselines)
        out = pd.DataFrame({m: [marks[(n, m)] for n in names] for m in METRICS},
                           index=pd.Index(names, name="configuration"))
        return out

    def tables(self) -> dict[str, pd.DataFrame]:
        out = {}
        for which in ("rankers", "ablation"):
            out[which] = self.metrics.loc[self._names(which)].rename_axis("configuration")
            out[f"{which}_markers"] = self.marker_table(which)
        out["timings"] = self.timings
        return out

    def to_text(self) -> str:
        """The tables as the command line prints them: metrics x 100, 2 digits."""
        tables = {n: (t * 100 if n in ("rankers", "ablation") else t) for n, t in self.tables().items()}
        titles = {w: f"{w} (x 100)" for w in ("rankers", "ablation")}
        titles.update({f"{w}_markers": f"{w}: baselines beaten (paired t-test, p < 0.05)"
                       for w in ("rankers", "ablation")})
        titles["timings"] = "measured build times (seconds)"
        return tables_text(tables, titles, digits=2)

    def table(self, which: str = "rankers", baselines: Sequence[str] | None = None, digits: int = 2) -> pd.DataFrame:
        """A table of the paper's shape (metrics x 100), each cell marked with the 1-based
        positions of the ``baselines`` it beats (paired t-test, p < 0.05); the best in bold.

        Defaults: the ranker table's baselines are no past passages and RecentDoc; the
        ablation's are its earlier rows.
        """
        configs = self.rankers if which == "rankers" else self.ablation
        names = [c.name for c in configs]
        if baselines is None:
            baselines = [names[0], "RecentDoc"] if which == "rankers" else names[:-1]
        marks = markers({n: self.scores[n] for n in names}, self.metrics.loc[names], baselines)
        from lampkit.metrics.significance import format_with_markers

        columns = [METRIC_NAMES[m] for m in METRICS]
        out = pd.DataFrame(index=pd.Index(names, name="configuration"), columns=columns, dtype=object)
        for m, column in zip(METRICS, columns):
            best = self.metrics.loc[names, m].max()
            for n in names:
                value = float(self.metrics.loc[n, m])
                out.loc[n, column] = format_with_markers(100 * value, marks[(n, m)], value == best, digits)
        return out


def _timing(path: Path) -> dict[str, float]:
    f = path / "timing.json"
    return json.loads(f.read_text()) if f.exists() else {}


def run(settings: LongformSettings, cache: ArtifactCache | None = None) -> LongformResults:
    """Every configuration of the chapter (both tables) on the evaluation split."""
    cache = cache or ArtifactCache()
    rankers, ablation = chapter_configs(settings.ablation_ranker)
    configs = list({c: None for c in rankers + ablation})
    folder = data_folder(settings, cache)
    fingerprint = _fingerprint(folder, ["train", settings.eval_split])
    data = load(settings, cache)
    timings: dict[str, dict[str, float]] = {}
    wall, cpu = time.perf_counter(), time.process_time()
    entries = _rankings(settings, list(dict.fromkeys(c.ranker for c in configs if c.ranker)), data)
    timings["rankings (this run; embeddings are cached)"] = {"wall_s": round(time.perf_counter() - wall, 2),
                                                             "cpu_s": round(time.process_time() - cpu, 2)}
    dfs = DocumentFrequencies(d.text for d in load_documents(split_path(folder, "train")))
    base = base_generator(settings, cache)
    if base == EMBEDDED_BASE:
        base_note = ("the base generator lampkit ships (lampkit/longform/base, pre-trained by "
                     "`lampkit longform train-base`)")
    elif (base.parent / "timing.json").exists():
        base_note = f"a base generator pre-trained here for {settings.base_steps} steps (cached)"
        timings["base generator (pre-training)"] = _timing(base.parent)
    else:
        base_note = f"the base generator in {base}"
    inputs, predictions, scores, rows = {}, {}, {}, {}
    split = settings.eval_split
    refs = [ex.target for ex in data[split]]
    configs_iter: Any = configs
    if settings.show_progress:
        from tqdm.auto import tqdm

        configs_iter = tqdm(configs, desc="configurations", unit="generator")
    for config in configs_iter:
        path = run_config(settings, config, data, entries.get(config.ranker) if config.ranker else None, dfs, base,
                          fingerprint, cache)
        timings[f"generator: {config.name}"] = _timing(path)
        inputs[config.name] = json.loads((path / "inputs.json").read_text(encoding="utf-8"))
        predictions[config.name] = json.loads((path / "predictions.json").read_text(encoding="utf-8"))
        scores[config.name] = pd.read_csv(path / "scores.csv")
        rows[config.name] = aggregate(predictions[config.name], refs)
    metrics = pd.DataFrame.from_dict(rows, orient="index")[list(METRICS)]
    timing_table = pd.DataFrame.from_dict(timings, orient="index")
    return LongformResults(rankers, ablation, data[split], inputs, predictions, scores, metrics, timing_table,
                           {r: per[split] for r, per in entries.items()}, dfs, base_note)
