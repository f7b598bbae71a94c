"""Numbers the paper reports, for side-by-side tables only (never an input to a result).

The CSV files in ``lampkit/resources/paper`` are copies of the tables printed in Salemi,
Kallumadi & Zamani, "Optimization Methods for Personalizing Large Language Models through
Retrieval Augmentation", SIGIR 2024 (LaMP time-based split, test sets, FlanT5-XXL).
"""

from __future__ import annotations

from importlib import resources

import pandas as pd

__all__ = ["PAPER_SOURCE", "paper_table"]

PAPER_SOURCE = ("Salemi, Kallumadi & Zamani, \"Optimization Methods for Personalizing Large Language "
                "Models through Retrieval Augmentation\", SIGIR 2024")

_TABLES = {"table1": "table1.csv", "table3": "table3.csv", "table4": "table4.csv",
           "table5_oracle": "table5_oracle.csv", "figure3_ranges": "figure3_ranges.csv"}


def paper_table(name: str) -> pd.DataFrame:
    """One of the paper's tables (``table1``, ``table3``, ``table4``, ``table5_oracle``, ``figure3_ranges``:
    the ranges over tasks of the relative winning rate its text quotes for Figure 3)."""
    if name not in _TABLES:
        raise KeyError(f"unknown paper table {name!r}; expected one of {sorted(_TABLES)}")
    with resources.files("lampkit.resources.paper").joinpath(_TABLES[name]).open() as fh:
        return pd.read_csv(fh)
