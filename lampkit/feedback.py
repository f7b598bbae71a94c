"""The feedback cache: what the frozen LLM says for each prompt, stored once and reused.

Two kinds of feedback (Salemi et al. sections 4 and 5):

- **pool feedback**: per input and per retriever of the pool, the prompt with the retriever's
  top k items, the LLM's output and its metrics (RSPG's signal and every results table);
- **item feedback**: per training input, the EVAL of the LLM's output with each one of the top
  l items of the initial retriever alone (ROPG's signal).

Everything lives in one SQLite file. Generations are keyed by the LLM's identity and the exact
prompt, so a prompt two retrievers share is generated once; rows are keyed by the content of
the input (id, input, profile, gold), the retriever's configuration and the prompt settings.
Work is committed chunk by chunk: an interrupted run resumes where it stopped, with nothing
lost or duplicated, and several processes (two chapters, or shards of one input range) can
fill the same file at once. Shards written to separate files are combined with :func:`merge`.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Protocol, Sequence

import numpy as np

if TYPE_CHECKING:  # pandas loads on first use: `lampkit --help` stays fast
    import pandas as pd

from lampkit.config import ConfigError
from lampkit.store.deps import depends_on
from lampkit.store import sqlite
from lampkit.store.digest import sha256_text
from lampkit.store.cache import cache_key, default_root
from lampkit.data.layout import Example
from lampkit.metrics.lamp import eval_signal, per_example
from lampkit.tasks import Task, TokenCounter, get_task

__all__ = ["Generator", "FeedbackStore", "example_key", "llm_key", "pool_feedback", "item_feedback", "require_golds",
           "merge", "eval_matrix", "FEEDBACK_MODULES"]

# the code feedback rows depend on: this module and every lampkit module it imports (prompts, metrics, ...)
FEEDBACK_MODULES = depends_on("lampkit.feedback")

_TIMEOUT_S = 120.0  # how long a connection waits for another process's lock
_SCHEMA = """
CREATE TABLE IF NOT EXISTS generations (llm TEXT, prompt_sha TEXT, output TEXT,
    PRIMARY KEY (llm, prompt_sha));
CREATE TABLE IF NOT EXISTS pool (ns TEXT, example TEXT, example_id TEXT, prompt TEXT, items TEXT,
    output TEXT, metrics TEXT, PRIMARY KEY (ns, example));
CREATE TABLE IF NOT EXISTS items (ns TEXT, example TEXT, example_id TEXT, position INTEGER,
    item_index INTEGER, item_id TEXT, output TEXT, eval REAL, PRIMARY KEY (ns, example, position));
"""


class Generator(Protocol):
    """What feedback needs from an LLM (``lampkit.llm.seq2seq.Seq2SeqLLM`` is one)."""

    model_id: str
    settings: Mapping[str, Any]
    counter: TokenCounter

    def generate(self, prompts: Sequence[str], batch_size: int = 32, show_progress: bool = False) -> list[str]: ...


def _sha(text: str) -> str:
    return sha256_text(text)


def example_key(task: Task, ex: Example) -> str:
    """Content address of one input: task, id, input, profile and gold."""
    payload = json.dumps([task.name, str(ex.id), ex.input, ex.profile, ex.output], ensure_ascii=False,
                         sort_keys=True)
    return _sha(payload)[:32]


def llm_key(llm: Generator) -> str:
    """Identity of an LLM and its generation settings."""
    return _sha(json.dumps({"model": llm.model_id, "settings": dict(llm.settings)}, sort_keys=True))[:32]


class FeedbackStore:
    """One SQLite file holding generations, pool feedback and item feedback."""

    def __init__(self, path: str | Path | None = None) -> None:
        """The store at ``path`` (None: ``feedback.sqlite`` in the artifact cache).

        A damaged file in the cache is moved aside and started afresh (its rows are recomputed);
        a damaged file you passed is refused, naming it (:class:`~lampkit.store.sqlite.DamagedDatabase`)."""
        self.path = Path(path) if path is not None else default_root() / "feedback.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        sqlite.open_checked(self.path, "feedback store", rebuild=path is None,
                            fix="move it away or pass another store (--store FILE, or -p store FILE in a chapter)")
        sqlite.connect(self.path, _TIMEOUT_S, schema=_SCHEMA).close()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite.connect(self.path, _TIMEOUT_S)
        try:
            yield con
            con.commit()
        except BaseException:
            con.rollback()
            raise
        finally:
            con.close()

    # -- generations --------------------------------------------------------------------
    def generations(self, llm: str, prompts: Sequence[str]) -> dict[str, str]:
        """Stored outputs of ``llm`` for those of ``prompts`` that have one (prompt -> output)."""
        shas = {_sha(p): p for p in prompts}
        found: dict[str, str] = {}
        with self._connect() as con:
            keys = list(shas)
            for i in range(0, len(keys), 500):
                chunk = keys[i:i + 500]
                q = f"SELECT prompt_sha, output FROM generations WHERE llm=? AND prompt_sha IN ({','.join('?' * len(chunk))})"
                for sha, out in con.execute(q, [llm, *chunk]):
                    found[shas[sha]] = out
        return found

    def put_generations(self, llm: str, pairs: Mapping[str, str]) -> None:
        with self._connect() as con:
            con.executemany("INSERT OR IGNORE INTO generations VALUES (?, ?, ?)",
                            [(llm, _sha(p), o) for p, o in pairs.items()])

    # -- rows ------------------------------------------------------------------------------
    def done(self, table: str, ns: str) -> set[str]:
        with self._connect() as con:
            return {r[0] for r in con.execute(f"SELECT DISTINCT example FROM {table} WHERE ns=?", [ns])}

    def put_rows(self, table: str, rows: Sequence[tuple]) -> None:
        if not rows:
            return
        with self._connect() as con:
            con.executemany(f"INSERT OR IGNORE INTO {table} VALUES ({','.join('?' * len(rows[0]))})", rows)

    def rows(self, table: str, ns: str, examples: Sequence[str]) -> list[tuple]:
        out: list[tuple] = []
        with self._connect() as con:
            for i in range(0, len(examples), 500):
                chunk = list(examples[i:i + 500])
                q = f"SELECT * FROM {table} WHERE ns=? AND example IN ({','.join('?' * len(chunk))})"
                out.extend(con.execute(q, [ns, *chunk]))
        return out


def _generate_missing(store: FeedbackStore, llm: Generator, prompts: Sequence[str], chunk_size: int,
                      batch_size: int) -> dict[str, str]:
    """Outputs for ``prompts``: stored ones, plus new ones generated and committed chunk by chunk."""
    lk = llm_key(llm)
    unique = list(dict.fromkeys(prompts))
    have = store.generations(lk, unique)
    missing = [p for p in unique if p not in have]
    for i in range(0, len(missing), chunk_size):
        chunk = missing[i:i + chunk_size]
        outs = llm.generate(chunk, batch_size=batch_size)
        pairs = dict(zip(chunk, outs))
        store.put_generations(lk, pairs)
        have.update(pairs)
    return have


def progress_bar(total: int, desc: str, show_progress: bool, unit: str = "input"):
    """One bar over a whole stage (every retriever, every chunk), with rate and time left; it stays
    on the terminal when done. Hidden when there is nothing to do or ``show_progress`` is False."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not show_progress or not total, leave=True,
                dynamic_ncols=True)


def _retriever_config(retriever: Any) -> Mapping[str, Any]:
    config = getattr(retriever, "config", None)
    return dict(config) if config else {"name": retriever.name}


def require_golds(task: Task, examples: Sequence[Example]) -> None:
    """Refuse inputs without a gold output where metrics need one (the benchmark hides its test
    split's golds): a :class:`~lampkit.config.ConfigError` naming the first such input and the dev split."""
    missing = [ex.id for ex in examples if ex.output is None]
    if missing:
        raise ConfigError(f"{len(missing)} of {len(examples)} {task.name} inputs have no gold output (first: id "
                          f"{missing[0]!r}); their metrics need golds, which LaMP hides for its test split: "
                          f"use the dev split (chapters: -p eval_split dev; lampkit feedback: --split dev)")


def pool_feedback(task: str | Task, examples: Sequence[Example], retrievers: Sequence[Any], llm: Generator,
                  store: FeedbackStore | None = None, k: int = 4, max_length: int | None = None,
                  chunk_size: int = 256, batch_size: int = 32, show_progress: bool = True) -> pd.DataFrame:
    """Per input and retriever: prompt (top ``k`` items), the LLM's output and its metrics.

    Returns one row per (input, retriever) in the order of ``examples`` then ``retrievers``,
    with columns ``example_id, retriever, prompt, items, output`` and the task's per-example
    metrics (``eval`` included).
    """
    import pandas as pd

    t = get_task(task)
    require_golds(t, examples)
    store = store or FeedbackStore()
    max_length = max_length or int(llm.settings.get("max_input_length", 512))
    keys = [example_key(t, ex) for ex in examples]
    frames = []
    namespaces = [cache_key("pool-feedback", {"task": t.name, "llm": llm_key(llm), "k": k, "max_length": max_length,
                                              "retriever": _retriever_config(r)}, FEEDBACK_MODULES)
                  for r in retrievers]
    todos = []
    for ns in namespaces:
        done = store.done("pool", ns)
        todos.append([i for i, key in enumerate(keys) if key not in done])
    # one bar over every retriever's inputs still to run (ranking, embedding and generation included)
    bar = progress_bar(sum(len(todo) for todo in todos), f"{t.name} pool feedback", show_progress)
    for retriever, ns, todo in zip(retrievers, namespaces, todos):
        for start in range(0, len(todo), chunk_size):
            idx = todo[start:start + chunk_size]
            batch = [examples[i] for i in idx]
            bar.set_postfix_str(f"{retriever.name}: ranking", refresh=True)
            rankings = retriever.rank_many(t, batch)
            chosen = [[int(j) for j in r.top(k)] for r in rankings]
            prompts = [t.build_prompt(ex.input, [ex.profile[j] for j in c], llm.counter, max_length)
                       for ex, c in zip(batch, chosen)]
            bar.set_postfix_str(f"{retriever.name}: generating", refresh=True)
            outputs = _generate_missing(store, llm, prompts, chunk_size, batch_size)
            preds = [outputs[p] for p in prompts]
            scores = per_example(t, preds, [ex.output for ex in batch])
            rows = []
            for n, (ex, c, p) in enumerate(zip(batch, chosen, prompts)):
                metrics = {m: float(v[n]) for m, v in scores.items()}
                rows.append((ns, keys[idx[n]], str(ex.id), p, json.dumps([ex.profile[j]["id"] for j in c]),
                             outputs[p], json.dumps(metrics, sort_keys=True)))
            store.put_rows("pool", rows)
            bar.update(len(idx))
    bar.close()
    for retriever, ns in zip(retrievers, namespaces):
        stored = {r[1]: r for r in store.rows("pool", ns, keys)}
        records = []
        for key in keys:
            _, _, ex_id, prompt, items, output, metrics = stored[key]
            records.append({"example_id": ex_id, "retriever": retriever.name, "prompt": prompt,
                            "items": json.loads(items), "output": output, **json.loads(metrics)})
        frames.append(pd.DataFrame.from_records(records))
    df = pd.concat(frames, ignore_index=True)
    order = {key: n for n, key in enumerate(dict.fromkeys(str(ex.id) for ex in examples))}
    df["_o"] = df["example_id"].map(order)
    names = {r.name: n for n, r in enumerate(retrievers)}
    df["_r"] = df["retriever"].map(names)
    return df.sort_values(["_o", "_r"], kind="stable").drop(columns=["_o", "_r"]).reset_index(drop=True)


def item_feedback(task: str | Task, examples: Sequence[Example], initial: Any, llm: Generator,
                  store: FeedbackStore | None = None, depth: int = 16, max_length: int | None = None,
                  chunk_size: int = 64, batch_size: int = 32, show_progress: bool = True) -> pd.DataFrame:
    """Per input, EVAL of the LLM's output with each of the ``depth`` top items of ``initial`` alone.

    Profiles shorter than ``depth`` give fewer rows (never padded). Columns: ``example_id,
    position, item_index, item_id, output, eval``.
    """
    import pandas as pd

    t = get_task(task)
    require_golds(t, examples)
    store = store or FeedbackStore()
    max_length = max_length or int(llm.settings.get("max_input_length", 512))
    keys = [example_key(t, ex) for ex in examples]
    ns = cache_key("item-feedback", {"task": t.name, "llm": llm_key(llm), "depth": depth,
                                     "max_length": max_length, "initial": _retriever_config(initial)},
                   FEEDBACK_MODULES)
    done = store.done("items", ns)
    todo = [i for i, key in enumerate(keys) if key not in done]
    bar = progress_bar(len(todo), f"{t.name} item feedback", show_progress)
    for start in range(0, len(todo), chunk_size):
        idx = todo[start:start + chunk_size]
        batch = [examples[i] for i in idx]
        rankings = initial.rank_many(t, batch)
        plan = []  # (n in batch, position, item index, prompt)
        for n, (ex, r) in enumerate(zip(batch, rankings)):
            for pos, j in enumerate(r.top(depth)):
                plan.append((n, pos, int(j), t.build_prompt(ex.input, [ex.profile[int(j)]], llm.counter, max_length)))
        outputs = _generate_missing(store, llm, [p[3] for p in plan], 10_000, batch_size)
        rows = []
        for n, pos, j, prompt in plan:
            ex = batch[n]
            out = outputs[prompt]
            rows.append((ns, keys[idx[n]], str(ex.id), pos, j, str(ex.profile[j]["id"]), out,
                         eval_signal(t, out, ex.output)))
        store.put_rows("items", rows)
        bar.update(len(idx))
    bar.close()
    stored = store.rows("items", ns, keys)
    df = pd.DataFrame(stored, columns=["ns", "example", "example_id", "position", "item_index", "item_id",
                                       "output", "eval"]).drop(columns=["ns"])
    order = {key: n for n, key in enumerate(keys)}
    df["_o"] = df["example"].map(order)
    return df.sort_values(["_o", "position"]).drop(columns=["_o", "example"]).reset_index(drop=True)


def merge(sources: Sequence[str | Path], into: str | Path) -> FeedbackStore:
    """Copy every row of the shard files ``sources`` into the store at ``into`` (duplicates ignored).

    Every shard must be an existing file, checked before anything is written (sqlite's ATTACH would
    create a mistyped path as an empty database); a file that is not a feedback store is named."""
    for src in sources:
        if not Path(src).is_file():
            raise FileNotFoundError(f"feedback shard {src} does not exist or is not a file: nothing merged")
        found = sqlite.problem(src, thorough=True)
        if found is not None:
            raise sqlite.DamagedDatabase(f"feedback shard {src} is damaged or not a feedback store ({found}): "
                                         f"nothing merged")
    target = FeedbackStore(into)
    with target._connect() as con:
        for n, src in enumerate(sources):
            try:
                con.execute(f"ATTACH DATABASE ? AS s{n}", [str(src)])
                for table in ("generations", "pool", "items"):
                    con.execute(f"INSERT OR IGNORE INTO {table} SELECT * FROM s{n}.{table}")
            except sqlite3.DatabaseError as err:
                raise sqlite3.DatabaseError(f"feedback shard {src} is not a feedback store ({err})") from err
            con.commit()
            con.execute(f"DETACH DATABASE s{n}")
    return target


def eval_matrix(df: pd.DataFrame, retrievers: Sequence[str], column: str = "eval") -> np.ndarray:
    """Inputs x retrievers array of ``column`` from a :func:`pool_feedback` frame."""
    wide = df.pivot(index="example_id", columns="retriever", values=column)
    order = list(dict.fromkeys(df["example_id"]))
    return wide.loc[order, list(retrievers)].to_numpy(dtype=np.float64)
