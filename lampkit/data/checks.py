"""The record checks behind the LaMP loaders: each file's records read and checked field by field.

The checkers collect problems (file, record, field) in a :class:`Problems` instead of stopping at
the first, so that :func:`lampkit.data.layout.validate_dir` reports every problem of a folder
while the loaders of :mod:`lampkit.data.layout` raise the first as a
:class:`~lampkit.data.records.LampDataError`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lampkit.data.records import LAYOUT, Example, LampDataError, parse_date
from lampkit.tasks import Task

__all__ = ["Problems", "parse_questions", "parse_outputs"]


class Problems:
    """Problems found in a file (or between two); the loaders raise the first, validate_dir lists all."""

    def __init__(self, file: Path) -> None:
        self.file = file
        self.errors: list[LampDataError] = []

    def add(self, message: str, record: str | None = None, field: str | None = None,
            file: Path | None = None) -> None:
        self.errors.append(LampDataError(file or self.file, message, record, field))

    def raise_first(self) -> None:
        if self.errors:
            first = self.errors[0]
            more = sum(e.file == first.file for e in self.errors[1:])
            if more:
                first = LampDataError(first.file, f"{first.detail} (and {more} more problem"
                                      f"{'s' if more > 1 else ''} in this file)", first.record, first.field)
            raise first


def _read_json(path: Path, problems: Problems, what: str) -> Any:
    """Parsed JSON of ``path``; None (with a problem recorded) when it cannot be read."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        problems.add(f"{what} file not found; expected {path} (LaMP layout: {LAYOUT})")
        return None
    except OSError as exc:
        problems.add(f"cannot read the {what} file: {exc.strerror or exc}")
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.add(f"not UTF-8 text (byte {exc.start})")
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        problems.add(f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}")
        return None


def _check_id(value: Any) -> str | None:
    """An id as str (an int is accepted and converted); None when it is not a usable id."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value:
        return value
    return None


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _rating_fields(task: Task) -> tuple[str, ...]:
    """Profile fields that hold a rating: for a rating task, those a retriever does not index."""
    if task.kind != "rating":
        return ()
    return tuple(f for f in task.profile_fields if f not in task.index_fields)


def _has_id(record: dict, parsed: str | None, rec: str, problems: Problems, allowed: str,
            show_value: bool = False) -> bool:
    """Whether ``record`` has a usable ``id`` (``parsed``: its checked value); if not, the problem is added."""
    if "id" not in record:
        problems.add("missing field", rec, "id")
        return False
    if parsed is None:
        value = record["id"]
        problems.add(f"must be {allowed}, not {_type_name(value)}" + (f" {value!r}" if show_value else ""), rec, "id")
        return False
    return True


def _check_profile_item(item: Any, task: Task, rec: str, problems: Problems) -> dict[str, Any] | None:
    if not isinstance(item, dict):
        problems.add(f"a profile item must be an object, not {_type_name(item)}", rec)
        return None
    pid = _check_id(item.get("id")) if isinstance(item.get("id"), str) else None
    if pid is not None:
        rec = f"{rec} (id {pid})"
    ok = _has_id(item, pid, rec, problems, "a non-empty string", show_value=True)
    if "date" not in item:
        problems.add("missing field", rec, "date")
        ok = False
    else:
        try:
            parse_date(item["date"])
        except ValueError as exc:
            problems.add(str(exc), rec, "date")
            ok = False
    out = dict(item)
    ratings = _rating_fields(task)
    for name in task.profile_fields:
        if name not in item:
            problems.add("missing field", rec, name)
            ok = False
            continue
        value = item[name]
        if name in ratings:
            text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
            if not isinstance(text, str) or text not in (task.labels or ()):
                problems.add(f"must be an integer rating in {', '.join(task.labels or ())} "
                             f"(string or int), not {_type_name(value)} {value!r}", rec, name)
                ok = False
            else:
                out[name] = text
        elif not isinstance(value, str):
            problems.add(f"must be a string, not {_type_name(value)}", rec, name)
            ok = False
    return out if ok else None


def _check_question(raw: Any, index: int, task: Task, problems: Problems) -> tuple[str | None, Example | None]:
    """The record's id (None if unusable) and its Example (None if any field is broken)."""
    if not isinstance(raw, dict):
        problems.add(f"a question must be an object, not {_type_name(raw)}", f"#{index}")
        return None, None
    qid = _check_id(raw.get("id"))
    rec = qid if qid is not None else f"#{index}"
    ok = _has_id(raw, qid, rec, problems, "a non-empty string or an int")

    inp = raw.get("input")
    if "input" not in raw:
        problems.add("missing field", rec, "input")
        ok = False
    elif not isinstance(inp, str) or not inp.strip():
        problems.add(f"must be a non-empty string, not {_type_name(inp)} {inp!r}"[:200], rec, "input")
        ok = False
    else:
        query = task.query(inp)
        if query is None:
            problems.add(f"the input does not follow the {task.official} template "
                         f"(no query can be extracted): {inp[:80]!r}", rec, "input")
            ok = False
        elif not query:
            problems.add(f"the input's query (the user's content) is empty: {inp[:80]!r}", rec, "input")
            ok = False

    user_id = raw.get("user_id")
    if user_id is not None:
        user_id = _check_id(user_id)
        if user_id is None:
            problems.add(f"must be a non-empty string or an int, not {_type_name(raw['user_id'])}",
                         rec, "user_id")
            ok = False

    profile = raw.get("profile")
    items: list[dict[str, Any]] = []
    if "profile" not in raw:
        problems.add("missing field", rec, "profile")
        ok = False
    elif not isinstance(profile, list):
        problems.add(f"must be a list of profile items, not {_type_name(profile)}", rec, "profile")
        ok = False
    elif not profile:
        problems.add("empty profile: every question needs at least one profile item", rec, "profile")
        ok = False
    else:
        seen: dict[str, int] = {}
        for j, raw_item in enumerate(profile):
            item = _check_profile_item(raw_item, task, f"{rec}/profile[{j}]", problems)
            if item is None:
                ok = False
                continue
            pid = item["id"]
            if pid in seen:
                problems.add(f"duplicate profile item id {pid!r} (first at profile[{seen[pid]}])",
                             f"{rec}/profile[{j}] (id {pid})", "id")
                ok = False
            else:
                seen[pid] = j
            items.append(item)
    if not ok:
        return qid, None
    extra = {k: v for k, v in raw.items() if k not in ("id", "input", "profile", "user_id")}
    return qid, Example(id=qid, input=inp, profile=items, user_id=user_id, extra=extra)


def parse_questions(path: Path, task: Task, problems: Problems) -> tuple[list[Example], list[str]] | None:
    """Valid examples and every usable question id (in file order); None if unreadable."""
    data = _read_json(path, problems, "questions")
    if data is None:
        return None
    if not isinstance(data, list):
        problems.add(f"a questions file must hold a JSON list of questions, not {_type_name(data)}")
        return None
    if not data:
        problems.add("the questions file holds no question")
    examples: list[Example] = []
    ids: list[str] = []
    first_at: dict[str, int] = {}
    for i, raw in enumerate(data):
        qid, ex = _check_question(raw, i, task, problems)
        if qid is not None:
            if qid in first_at:
                problems.add(f"duplicate question id (first at #{first_at[qid]})", f"{qid} (#{i})", "id")
                continue
            first_at[qid] = i
            ids.append(qid)
        if ex is not None:
            examples.append(ex)
    return examples, ids


def parse_outputs(path: Path, task: Task, problems: Problems, check_labels: bool = True) -> dict[str, str] | None:
    """Outputs by id, in file order (ids of broken records map to ''); None if unreadable."""
    data = _read_json(path, problems, "outputs")
    if data is None:
        return None
    if not isinstance(data, dict):
        problems.add(f'an outputs file must hold an object {{"task", "golds"}}, not {_type_name(data)}')
        return None
    if "task" not in data:
        problems.add(f"missing field (expected {task.official!r})", field="task")
    elif data["task"] != task.official:
        problems.add(f"task is {data['task']!r}, expected {task.official!r}", field="task")
    golds = data.get("golds")
    if not isinstance(golds, list):
        problems.add("missing field" if "golds" not in data
                     else f"must be a list of {{id, output}}, not {_type_name(golds)}", field="golds")
        return None
    out: dict[str, str] = {}
    first_at: dict[str, int] = {}
    for i, gold in enumerate(golds):
        if not isinstance(gold, dict):
            problems.add(f"a gold must be an object, not {_type_name(gold)}", f"#{i}")
            continue
        gid = _check_id(gold.get("id"))
        rec = gid if gid is not None else f"#{i}"
        if "id" not in gold:
            problems.add("missing field", rec, "id")
            continue
        if gid is None:
            problems.add(f"must be a non-empty string or an int, not {_type_name(gold['id'])}", rec, "id")
            continue
        if gid in first_at:
            problems.add(f"duplicate id (first at #{first_at[gid]})", f"{gid} (#{i})", "id")
            continue
        first_at[gid] = i
        value = gold.get("output")
        if "output" not in gold:
            problems.add("missing field", rec, "output")
            value = ""
        elif not isinstance(value, str):
            problems.add(f"must be a string, not {_type_name(value)} {value!r}"[:200], rec, "output")
            value = ""
        elif check_labels and task.labels is not None and value not in task.labels:
            problems.add(f"{value!r} is not a {task.official} label ({', '.join(task.labels)})", rec, "output")
        out[gid] = value
    return out
