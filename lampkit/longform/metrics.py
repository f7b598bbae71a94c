"""BLEU and ROUGE-1/2/L of generated passages against the real ones (Li et al. 2023, their evaluation).

- **BLEU** (Papineni et al. 2002): BLEU-4 with uniform weights and one reference, over tokens
  that are runs of word characters or single punctuation marks, case kept (for plain ASCII text
  this is what sacrebleu's default ``13a`` tokenizer gives). :func:`corpus_bleu` pools the clipped
  n-gram matches and the lengths of all examples (the table's number); it is 0 when some order
  has no match. Per-example scores (for the paired t-tests) are :func:`sentence_bleu` with the
  add-one smoothing of Lin & Och (2004) for the orders 2 to 4 (an order with no n-gram in the
  hypothesis counts one, as in nltk, whose ``SmoothingFunction().method2`` this equals).
- **ROUGE-1/2/L**: F-measure of ``rouge_score`` with its default tokenizer and no stemmer (as
  the LaMP metrics), averaged over examples.

Every score lies in [0, 1].
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = ["METRICS", "METRIC_NAMES", "bleu_tokens", "ngram_stats", "corpus_bleu", "sentence_bleu", "per_example",
           "aggregate", "markers"]

METRICS: tuple[str, ...] = ("bleu", "rouge1", "rouge2", "rougeL")
METRIC_NAMES: dict[str, str] = {"bleu": "BLEU", "rouge1": "ROUGE-1", "rouge2": "ROUGE-2", "rougeL": "ROUGE-L"}
MAX_N = 4
_TOKEN = re.compile(r"\w+|[^\w\s]")


def bleu_tokens(text: str) -> list[str]:
    """Words (runs of word characters) and single punctuation marks, case kept."""
    return _TOKEN.findall(text)


def ngram_stats(hypothesis: Sequence[str], reference: Sequence[str], max_n: int = MAX_N) -> np.ndarray:
    """``[matches_1, total_1, ..., matches_n, total_n, hyp_len, ref_len]``: clipped n-gram matches
    and the hypothesis' n-gram count per order, then both lengths."""
    out = []
    for n in range(1, max_n + 1):
        hyp = Counter(tuple(hypothesis[i:i + n]) for i in range(len(hypothesis) - n + 1))
        ref = Counter(tuple(reference[i:i + n]) for i in range(len(reference) - n + 1))
        out += [sum(min(c, ref[g]) for g, c in hyp.items()), max(len(hypothesis) - n + 1, 0)]
    return np.asarray(out + [len(hypothesis), len(reference)], dtype=np.int64)


def _bleu(stats: np.ndarray, smooth: bool, max_n: int = MAX_N) -> float:
    hyp_len, ref_len = int(stats[-2]), int(stats[-1])
    if hyp_len == 0 or stats[0] == 0:
        return 0.0
    log_p = 0.0
    for n in range(max_n):
        match, total = int(stats[2 * n]), max(int(stats[2 * n + 1]), 1)
        if smooth and n > 0:
            match, total = match + 1, total + 1
        if match == 0:
            return 0.0
        log_p += math.log(match / total) / max_n
    brevity = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)
    return brevity * math.exp(log_p)


def corpus_bleu(hypotheses: Sequence[str], references: Sequence[str], max_n: int = MAX_N) -> float:
    """Corpus BLEU of the hypotheses against one reference each (no smoothing)."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    stats = sum((ngram_stats(bleu_tokens(h), bleu_tokens(r), max_n) for h, r in zip(hypotheses, references)),
                np.zeros(2 * max_n + 2, dtype=np.int64))
    return _bleu(stats, smooth=False, max_n=max_n)


def sentence_bleu(hypothesis: str, reference: str, max_n: int = MAX_N) -> float:
    """BLEU of one hypothesis, add-one smoothing for the orders above 1 (Lin & Och 2004)."""
    return _bleu(ngram_stats(bleu_tokens(hypothesis), bleu_tokens(reference), max_n), smooth=True, max_n=max_n)


def per_example(predictions: Sequence[str], references: Sequence[str]) -> pd.DataFrame:
    """One row per example: sentence BLEU and the ROUGE-1/2/L F-measures."""
    from lampkit.metrics.lamp import rouge_scorer_for

    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references")
    scorer = rouge_scorer_for(("rouge1", "rouge2", "rougeL"))
    rows = []
    for p, r in zip(predictions, references):
        s = scorer.score(r.strip(), p.strip())
        rows.append({"bleu": sentence_bleu(p, r), **{m: s[m].fmeasure for m in ("rouge1", "rouge2", "rougeL")}})
    return pd.DataFrame(rows, columns=list(METRICS))


def aggregate(predictions: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Corpus BLEU and the mean ROUGE-1/2/L F-measures."""
    table = per_example(predictions, references)
    return {"bleu": corpus_bleu(predictions, references),
            **{m: float(table[m].mean()) if len(table) else 0.0 for m in ("rouge1", "rouge2", "rougeL")}}


def markers(scores: Mapping[str, pd.DataFrame], aggregates: pd.DataFrame, baselines: Sequence[str],
            alpha: float = 0.05) -> dict[tuple[str, str], str]:
    """For every configuration of ``scores`` and every metric, the 1-based positions in
    ``baselines`` of the baselines it beats, comma-separated (``""`` for none).

    A configuration beats a baseline on a metric when its aggregate (``aggregates``: one row per
    configuration) is higher and the two-tailed paired t-test on the per-example scores
    (sentence BLEU for BLEU) gives ``p < alpha``, as in the paper.
    """
    from lampkit.metrics.significance import paired_ttest

    missing = [b for b in baselines if b not in scores]
    if missing:
        raise KeyError(f"baselines missing from the configurations: {', '.join(missing)}")
    out = {}
    for name, table in scores.items():
        for m in METRICS:
            beaten = [str(i + 1) for i, b in enumerate(baselines)
                      if aggregates.loc[name, m] > aggregates.loc[b, m]
                      and paired_ttest(table[m], scores[b][m])[1] < alpha]
            out[(name, m)] = ",".join(beaten)
    return out
