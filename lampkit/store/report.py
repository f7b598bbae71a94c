"""One reporting protocol for every stage's results: named tables, their text, and a saved copy.

A stage's results object (:class:`~lampkit.pipeline.BaselineResults`,
:class:`~lampkit.ropg.stage.RopgResults`, :class:`~lampkit.rspg.stage.RspgResults`,
:class:`~lampkit.analysis.table3.Table3`, :class:`~lampkit.longform.experiment.LongformResults`, ...)
is a :class:`Report`:

- ``tables()``: the named tables the stage's chapter shows (name -> DataFrame), numbers unrounded;
- ``to_text()``: those tables as plain text, what the command line prints (:func:`tables_text`);
- ``save(folder, command=..., settings=...)``: each table as ``<name>.csv`` and ``provenance.json``
  (:func:`save_tables`), every file written atomically.

Tables that hold measured times (wall or CPU seconds) are named in the results' ``MEASURED``: they
are saved like the others, but marked so in the provenance, and a regression check leaves them out
(no two runs measure the same time).

This module is RSPG-agnostic; :mod:`lampkit.rspg.report` holds RSPG's own tables.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Protocol, runtime_checkable

if TYPE_CHECKING:  # pandas loads on first use: `lampkit --help` stays fast
    import pandas as pd

from lampkit.store.deps import depends_on, module_path
from lampkit.store.io import atomic_write_json, atomic_write_text
from lampkit.store.version import __version__

__all__ = ["Report", "TablesReport", "tables_text", "save_tables", "read_tables", "provenance", "code_fingerprint",
           "git_describe", "jsonable", "PROVENANCE"]

PROVENANCE = "provenance.json"


@runtime_checkable
class Report(Protocol):
    """What every stage's results object offers (see the module docstring)."""

    def tables(self) -> dict[str, pd.DataFrame]: ...

    def to_text(self) -> str: ...

    def save(self, folder: str | Path, command: str | None = None,
             settings: Mapping[str, Any] | None = None) -> Path: ...


class TablesReport:
    """The protocol's ``to_text`` and ``save`` from a class's ``tables()`` (mix into a results class).

    Class attributes: ``MODULES`` (the lampkit modules the stage computes with: their import closure
    is the code fingerprint), ``MEASURED`` (tables of measured times), ``DIGITS`` (display rounding),
    ``NOT_IN_TEXT`` (tables saved but not printed), and the methods ``titles()`` (table name -> title) and ``notes()`` (sentences after the tables).
    """

    MODULES: tuple[str, ...] = ()
    MEASURED: frozenset[str] = frozenset()
    NOT_IN_TEXT: frozenset[str] = frozenset()  # tables the text leaves out (a chapter plots them)
    DIGITS: int = 4

    def tables(self) -> dict[str, pd.DataFrame]:  # pragma: no cover - each results class defines it
        raise NotImplementedError

    def titles(self) -> dict[str, str]:
        return {}

    def notes(self) -> list[str]:
        return []

    def to_text(self) -> str:
        shown = {n: t for n, t in self.tables().items() if n not in self.NOT_IN_TEXT}
        return tables_text(shown, self.titles(), self.DIGITS, self.notes())

    def save(self, folder: str | Path, command: str | None = None,
             settings: Mapping[str, Any] | None = None) -> Path:
        """Each table as ``folder/<name>.csv`` and ``folder/provenance.json`` (:func:`save_tables`)."""
        return save_tables(folder, self.tables(), provenance(command, settings, self.MODULES), self.MEASURED)


# ----- text ---------------------------------------------------------------------------------
def tables_text(tables: Mapping[str, pd.DataFrame], titles: Mapping[str, str] | None = None,
                digits: int = 4, notes: Iterable[str] = ()) -> str:
    """Each table under its title (default: its name), rounded to ``digits`` for display only,
    then ``notes`` (sentences written from the numbers), separated by blank lines."""
    titles = titles or {}
    parts = []
    for name, frame in tables.items():
        shown = frame.round(digits) if digits is not None else frame
        parts.append(f"{titles.get(name, name)}:\n{shown.to_string()}")
    parts += [n for n in notes if n]
    return "\n\n".join(parts)


# ----- provenance ---------------------------------------------------------------------------
def _module_hash(module: str) -> str:
    path = module_path(module)
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path is not None else ""


def code_fingerprint(*roots: str) -> dict[str, Any]:
    """The code a stage computes with: ``roots`` and every lampkit module they import
    (:func:`~lampkit.store.deps.depends_on`), one content hash over all (``code``) and each module's."""
    hashes = {m: _module_hash(m) for m in (depends_on(*roots) if roots else ())}
    code = hashlib.sha256("".join(f"{m}:{h}\n" for m, h in hashes.items()).encode()).hexdigest()[:16]
    return {"code": code if hashes else "", "modules": hashes}


def git_describe() -> str | None:
    """``git describe --always --dirty`` of the checkout lampkit runs from; None outside a checkout."""
    root = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(["git", "-C", str(root), "describe", "--always", "--dirty", "--tags"],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return (out.stdout.strip() or None) if out.returncode == 0 else None


def jsonable(obj: Any) -> Any:
    """``obj`` as plain JSON data: dataclasses as dicts, paths and other objects as their text."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return jsonable(dataclasses.asdict(obj))
    if isinstance(obj, Mapping):
        return {str(k if not isinstance(k, type) else k.__name__): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        return obj if obj == obj and abs(obj) != float("inf") else str(obj)
    return str(obj)


def provenance(command: str | None = None, settings: Mapping[str, Any] | None = None,
               modules: Iterable[str] = ()) -> dict[str, Any]:
    """What produced a set of tables: the command, lampkit's version and checkout, the code's
    fingerprint (:func:`code_fingerprint` of ``modules``) and the settings."""
    return {"command": command, "lampkit": __version__, "git": git_describe(),
            "fingerprint": code_fingerprint(*modules), "settings": jsonable(settings or {})}


# ----- saving and reading -------------------------------------------------------------------
def _flat_columns(frame: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    if isinstance(frame.columns, pd.MultiIndex):
        frame = frame.copy()
        frame.columns = [" | ".join(str(p) for p in col if str(p)) for col in frame.columns]
    return frame


def _index_levels(frame: pd.DataFrame) -> int:
    """Index levels written to CSV (0 for a plain range index)."""
    import pandas as pd

    if isinstance(frame.index, pd.RangeIndex) and frame.index.name is None:
        return 0
    return frame.index.nlevels


def save_tables(folder: str | Path, tables: Mapping[str, pd.DataFrame], info: Mapping[str, Any],
                measured: Iterable[str] = ()) -> Path:
    """Write each table as ``folder/<name>.csv`` and ``info`` with a table listing as ``provenance.json``.

    Floats are written with Python's shortest round-trip repr, so reading a CSV back gives the
    same numbers bit for bit. Multi-level column labels are joined with ``" | "``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    measured = set(measured)
    listing = {}
    for name, frame in tables.items():
        levels = _index_levels(frame)
        flat = _flat_columns(frame)
        atomic_write_text(folder / f"{name}.csv", flat.to_csv(index=levels > 0))
        listing[name] = {"index_levels": levels, "rows": int(len(frame)), "columns": [str(c) for c in flat.columns],
                         "measured": name in measured}
    atomic_write_json(folder / PROVENANCE, {**info, "tables": listing}, indent=1)
    return folder


def read_tables(folder: str | Path, include_measured: bool = False) -> dict[str, pd.DataFrame]:
    """The tables :func:`save_tables` wrote to ``folder`` (without the measured ones unless asked)."""
    import pandas as pd

    folder = Path(folder)
    listing = json.loads((folder / PROVENANCE).read_text(encoding="utf-8"))["tables"]
    out = {}
    for name, meta in listing.items():
        if meta.get("measured") and not include_measured:
            continue
        levels = meta["index_levels"]
        frame = pd.read_csv(folder / f"{name}.csv", index_col=list(range(levels)) if levels else None,
                            keep_default_na=True)
        out[name] = frame
    return out
