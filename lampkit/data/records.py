"""LaMP's records: an input with its profile (:class:`Example`), the error that names a bad record
(:class:`LampDataError`), and the profile dates (``YYYY-MM-DD`` or ``YYYY``).
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

__all__ = ["SPLITS", "HIDDEN_GOLD_SPLITS", "LAYOUT", "Example", "LampDataError", "parse_date", "iter_profile_dates"]

SPLITS: tuple[str, ...] = ("train", "dev", "test")
HIDDEN_GOLD_SPLITS: tuple[str, ...] = ("test",)  # splits whose outputs the benchmark withholds
LAYOUT = ("{root}/time/LaMP_{N}/{split}/{split}_questions.json and _outputs.json "
          "(user-based split: {root}/LaMP_{N}/...; movie tagging under LaMP_2/new)")
_DATE = re.compile(r"(\d{4})(?:-(\d{2})-(\d{2}))?")


class LampDataError(ValueError):
    """A data file breaks the LaMP layout; the message names the file, the record and the field."""

    def __init__(self, file: str | Path, message: str, record: str | None = None,
                 field: str | None = None) -> None:
        self.file = str(file)
        self.record = record
        self.field = field
        self.detail = message
        where = self.file
        if record is not None:
            where += f", record {record}"
        if field is not None:
            where += f", field {field!r}"
        super().__init__(f"{where}: {message}")


@dataclass
class Example:
    """One LaMP input: its id, input text, the user's profile and (where known) the gold output.

    ``extra`` holds the question record's fields beyond ``id``, ``input``, ``profile`` and
    ``user_id``; they are written back by :meth:`question_record`.
    """

    id: str
    input: str
    profile: list[dict[str, Any]]
    user_id: str | None = None
    output: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def question_record(self) -> dict[str, Any]:
        rec: dict[str, Any] = {"id": self.id, "input": self.input, "profile": self.profile}
        if self.user_id is not None:
            rec["user_id"] = self.user_id
        for key, value in self.extra.items():
            rec.setdefault(key, value)
        return rec


def parse_date(date: str) -> tuple[int, ...]:
    """``"YYYY-MM-DD"`` -> ``(Y, M, D)``; a bare ``"YYYY"`` -> ``(Y,)``.

    Tuples compare chronologically, so sorting profile items by this key in reverse order puts
    the newest first. A bare year sorts before every full date of the same year (it counts as
    the year's start). Raises ValueError for any other form or a day that does not exist.
    """
    m = _DATE.fullmatch(date) if isinstance(date, str) else None
    if m is None:
        raise ValueError(f"date {date!r} is neither 'YYYY-MM-DD' nor a bare year 'YYYY'")
    year = int(m.group(1))
    if m.group(2) is None:
        if year < 1:
            raise ValueError(f"date {date!r} has year 0")
        return (year,)
    parts = (year, int(m.group(2)), int(m.group(3)))
    try:
        datetime.date(*parts)
    except ValueError as exc:
        raise ValueError(f"date {date!r} does not exist ({exc})") from None
    return parts


def iter_profile_dates(profile: Iterable[Mapping[str, Any]]) -> Iterator[tuple[int, ...]]:
    """:func:`parse_date` of each profile item's ``date``, in profile order (recency keys)."""
    for item in profile:
        yield parse_date(item["date"])


# ----- reading and checking ---------------------------------------------------------------
