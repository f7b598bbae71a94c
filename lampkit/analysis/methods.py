"""The method vocabulary: every retriever and selector name the tables use, in the paper's orders.

One place for the names, so that Table 3's columns, its significance markers, the baseline pool
and RSPG's pool cannot drift apart (Salemi et al. section 6: Table 3's columns, the pool of
section 5).
"""

from __future__ import annotations

__all__ = ["BASELINES", "ROPG", "SELECTORS", "TABLE3", "RSPG_POOL"]

# Table 3's baselines in its order; a significance marker i + 1 stands for BASELINES[i]
BASELINES: tuple[str, ...] = ("none", "bm25", "recency", "dense", "rrf")
# the retrievers trained from the LLM's feedback (section 4)
ROPG: tuple[str, ...] = ("ropg-rl", "ropg-kd")
# the retriever selectors (section 5)
SELECTORS: tuple[str, ...] = ("rspg-pre", "rspg-post")
# the columns of Table 3, in its order
TABLE3: tuple[str, ...] = (*BASELINES, *ROPG, *SELECTORS)
# the pool RSPG selects from, in the paper's order
RSPG_POOL: tuple[str, ...] = ("none", "recency", "bm25", "dense", *ROPG)
