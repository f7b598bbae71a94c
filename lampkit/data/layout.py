"""The LaMP data layer: the official JSON layout, loading and validation.

Layout (the official LaMP release, the data of Salemi et al. section 6.1):
``{root}/{scheme}/LaMP_{N}/{split}/{split}_questions.json`` and
``..._outputs.json`` with ``scheme`` = ``time`` (time-based split) or ``user`` (user-based,
which the official release keeps at ``{root}/LaMP_{N}/...``); movie tagging sits under
``LaMP_2/new``. The test split's outputs are hidden by the benchmark, so they may be absent.

The loaders check every record and raise :class:`LampDataError` naming the file, the record
(the question id, ``#12`` for the 13th record when no id can be read, or
``q7/profile[3] (id p42)`` for a profile item) and the field. :func:`validate_dir` runs
the same checks over a whole data folder and gathers every problem instead of stopping.
"""

from __future__ import annotations

import datetime
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from lampkit.store.io import atomic_write_json
from lampkit.tasks import Task, get_task, resolve_tasks

__all__ = [
    "SPLITS",
    "HIDDEN_GOLD_SPLITS",
    "LAYOUT",
    "Example",
    "LampDataError",
    "SplitCounts",
    "ValidationReport",
    "task_dir",
    "split_paths",
    "write_split",
    "parse_date",
    "iter_profile_dates",
    "load_questions",
    "load_outputs",
    "load_split",
    "validate_dir",
]

SPLITS: tuple[str, ...] = ("train", "dev", "test")
HIDDEN_GOLD_SPLITS: tuple[str, ...] = ("test",)  # splits whose outputs the benchmark withholds
LAYOUT = ("{root}/time/LaMP_{N}/{split}/{split}_questions.json and _outputs.json "
          "(user-based split: {root}/LaMP_{N}/...; movie tagging under LaMP_2/new)")
_MAX_PROBLEMS_PER_FILE = 20  # validate_dir shows this many problems per file, then a count
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


def task_dir(root: str | Path, task: str | Task, scheme: str = "time") -> Path:
    """Folder of one task under ``root`` for a split scheme (``time`` or ``user``)."""
    t = get_task(task)
    if scheme == "time":
        return Path(root, "time", *t.dir_parts)
    if scheme == "user":
        return Path(root, *t.dir_parts)
    raise ValueError(f"unknown split scheme {scheme!r}; expected 'time' or 'user'")


def split_paths(root: str | Path, task: str | Task, split: str, scheme: str = "time") -> tuple[Path, Path]:
    """Paths of ``{split}_questions.json`` and ``{split}_outputs.json``."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    d = task_dir(root, task, scheme) / split
    return d / f"{split}_questions.json", d / f"{split}_outputs.json"


def write_split(root: str | Path, task: str | Task, split: str, examples: Sequence[Example],
                scheme: str = "time", with_outputs: bool = True) -> tuple[Path, Path | None]:
    """Write one split in the official layout (atomically); outputs only when asked and known."""
    t = get_task(task)
    qpath, opath = split_paths(root, t, split, scheme)
    atomic_write_json(qpath, [ex.question_record() for ex in examples])
    if not with_outputs:
        return qpath, None
    golds = []
    for ex in examples:
        if ex.output is None:
            raise ValueError(f"{opath}: example {ex.id!r} has no output to write")
        golds.append({"id": ex.id, "output": ex.output})
    atomic_write_json(opath, {"task": t.official, "golds": golds})
    return qpath, opath


# ----- dates ------------------------------------------------------------------------------
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
class _Problems:
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


def _read_json(path: Path, problems: _Problems, what: str) -> Any:
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


def _check_profile_item(item: Any, task: Task, rec: str, problems: _Problems) -> dict[str, Any] | None:
    if not isinstance(item, dict):
        problems.add(f"a profile item must be an object, not {_type_name(item)}", rec)
        return None
    pid = _check_id(item.get("id")) if isinstance(item.get("id"), str) else None
    if pid is not None:
        rec = f"{rec} (id {pid})"
    ok = True
    if "id" not in item:
        problems.add("missing field", rec, "id")
        ok = False
    elif pid is None:
        problems.add(f"must be a non-empty string, not {_type_name(item['id'])} {item['id']!r}", rec, "id")
        ok = False
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


def _check_question(raw: Any, index: int, task: Task, problems: _Problems) -> tuple[str | None, Example | None]:
    """The record's id (None if unusable) and its Example (None if any field is broken)."""
    if not isinstance(raw, dict):
        problems.add(f"a question must be an object, not {_type_name(raw)}", f"#{index}")
        return None, None
    qid = _check_id(raw.get("id"))
    rec = qid if qid is not None else f"#{index}"
    ok = True
    if "id" not in raw:
        problems.add("missing field", rec, "id")
        ok = False
    elif qid is None:
        problems.add(f"must be a non-empty string or an int, not {_type_name(raw['id'])}", rec, "id")
        ok = False

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


def _parse_questions(path: Path, task: Task, problems: _Problems) -> tuple[list[Example], list[str]] | None:
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


def _parse_outputs(path: Path, task: Task, problems: _Problems, check_labels: bool = True) -> dict[str, str] | None:
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


def load_questions(path: str | Path, task: str | Task) -> list[Example]:
    """The examples of one ``*_questions.json`` file, every record checked.

    Each record is an object with ``id`` (a string; an int is accepted and converted to str),
    ``input`` (a non-empty string from which ``task.query`` extracts a non-empty query),
    ``profile`` (a non-empty list) and optionally ``user_id`` (string or int, kept as str).
    Each profile item has a string ``id`` unique in its profile, a ``date`` (``YYYY-MM-DD``
    or ``YYYY``) and every field of ``task.profile_fields`` as a string; a rating task's
    rating field may also be an int and must be one of ``task.labels`` (it is kept as str).
    Question ids are unique in the file. Unknown fields are kept: in ``Example.extra`` for
    a question, in the item dict for a profile item. Raises :class:`LampDataError`.
    """
    t = get_task(task)
    problems = _Problems(Path(path))
    parsed = _parse_questions(Path(path), t, problems)
    problems.raise_first()
    assert parsed is not None
    return parsed[0]


def load_outputs(path: str | Path, task: str | Task, check_labels: bool = True) -> dict[str, str]:
    """Outputs by id from ``{"task": "LaMP_N", "golds": [{"id", "output"}, ...]}`` (golds, or
    predictions in the same layout).

    The task name must be ``task.official``; each output is a string and, with ``check_labels``
    for a task with a label set (classification, rating), exactly one of its labels (``"5.0"`` is
    not ``"5"``; predictions are not checked so: a wrong label is a wrong answer, not bad input);
    ids (string, or int converted to str) are unique. Raises :class:`LampDataError`.
    """
    t = get_task(task)
    problems = _Problems(Path(path))
    golds = _parse_outputs(Path(path), t, problems, check_labels)
    problems.raise_first()
    assert golds is not None
    return golds


def _check_split(root: str | Path, task: Task, split: str, scheme: str,
                 require_outputs: bool | None) -> tuple[list[Example], bool, list[_Problems]]:
    """Examples of one split (with golds when read), whether golds were read, and the problems:
    the questions file's, the outputs file's, then ids that one of the two lacks."""
    qpath, opath = split_paths(root, task, split, scheme)
    qprob, oprob, mismatch = _Problems(qpath), _Problems(opath), _Problems(opath)
    problems = [qprob, oprob, mismatch]
    parsed = _parse_questions(qpath, task, qprob)
    golds = None
    if require_outputs or (require_outputs is None and opath.exists()):
        golds = _parse_outputs(opath, task, oprob)
    if parsed is None:
        return [], golds is not None, problems
    examples, ids = parsed
    if golds is not None:
        no_gold = [i for i in ids if i not in golds]
        if no_gold:
            mismatch.add(f"no gold for question id {no_gold[0]!r} of {qpath.name} "
                         f"({len(no_gold)} question id(s) without a gold)", no_gold[0], "id", opath)
        known = set(ids)
        no_question = [i for i in golds if i not in known]
        if no_question:
            mismatch.add(f"no question for gold id {no_question[0]!r} of {opath.name} "
                         f"({len(no_question)} gold id(s) without a question)", no_question[0], "id", qpath)
        for ex in examples:
            ex.output = golds.get(ex.id)
    return examples, golds is not None, problems


def load_split(root: str | Path, task: str | Task, split: str, scheme: str = "time",
               require_outputs: bool | None = None) -> list[Example]:
    """The examples of one split with their gold ``output`` filled in where golds are read.

    ``require_outputs``: True makes the outputs file mandatory, None reads it when present
    (the benchmark's test split has none), False ignores it. When golds are read, question
    ids and gold ids must be the same sets. Raises :class:`LampDataError` (the first problem;
    its message counts the others of that file).
    """
    t = get_task(task)
    examples, _, problems = _check_split(root, t, split, scheme, require_outputs)
    for p in problems:
        p.raise_first()
    return examples


# ----- whole-folder validation ------------------------------------------------------------
@dataclass(frozen=True)
class SplitCounts:
    """Size of one loaded split; ``users`` counts distinct user ids (a question without one counts alone)."""

    examples: int
    profile_items: int
    users: int
    golds: bool  # whether an outputs file was read
    problems: int = 0  # problems found in this split's files


@dataclass
class ValidationReport:
    """Result of :func:`validate_dir`: counts per task name and split, and every problem found."""

    root: str
    scheme: str
    counts: dict[str, dict[str, SplitCounts]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def format(self) -> str:
        """One line per task and split with its counts, then the problems."""
        status = "OK" if self.ok else f"{len(self.problems)} problem(s)"
        lines = [f"LaMP data in {self.root} (scheme {self.scheme}): {status}"]
        for name, splits in self.counts.items():
            official = get_task(name).official
            for split, c in splits.items():
                gold = "golds" if c.golds else "golds hidden" if split in HIDDEN_GOLD_SPLITS else "no golds"
                flag = f"  ({c.problems} problem(s))" if c.problems else ""
                lines.append(f"  {official} {split:<5}  {c.examples:>7,} examples  "
                             f"{c.profile_items:>9,} profile items  {c.users:>7,} users  {gold}{flag}")
        if self.problems:
            lines.append("Problems:")
            lines.extend(f"  - {p}" for p in self.problems)
        return "\n".join(lines)


def _count(examples: Sequence[Example], golds: bool, problems: int) -> SplitCounts:
    users = {ex.user_id for ex in examples if ex.user_id is not None}
    anonymous = sum(ex.user_id is None for ex in examples)
    return SplitCounts(len(examples), sum(len(ex.profile) for ex in examples), len(users) + anonymous,
                       golds, problems)


def validate_dir(root: str | Path, tasks: str | Sequence[str] = "all", scheme: str = "time",
                 splits: Sequence[str] = SPLITS) -> ValidationReport:
    """Check every split present for each task under ``root``, gathering all problems.

    A missing task folder, or one with none of ``splits``, is a problem; a split folder
    that is absent is skipped. Outputs files are required for every split but the test
    split (whose golds the benchmark hides). Each file reports up to
    ``_MAX_PROBLEMS_PER_FILE`` problems and then how many more it has.
    """
    report = ValidationReport(str(root), scheme)
    for task in resolve_tasks(tasks):
        tdir = task_dir(root, task, scheme)
        if not tdir.is_dir():
            report.problems.append(f"{tdir}: {task.official} folder missing (LaMP layout: {LAYOUT})")
            continue
        present = [s for s in splits if (tdir / s).is_dir()]
        if not present:
            report.problems.append(f"{tdir}: no split folder ({', '.join(splits)}) in {task.official}")
            continue
        for split in present:
            require = None if split in HIDDEN_GOLD_SPLITS else True
            examples, golds, problems = _check_split(root, task, split, scheme, require)
            n_problems = sum(len(p.errors) for p in problems)
            report.counts.setdefault(task.name, {})[split] = _count(examples, golds, n_problems)
            for p in problems:
                report.problems.extend(str(e) for e in p.errors[:_MAX_PROBLEMS_PER_FILE])
                if len(p.errors) > _MAX_PROBLEMS_PER_FILE:
                    report.problems.append(f"{p.file}: {len(p.errors) - _MAX_PROBLEMS_PER_FILE} more "
                                           "problem(s) not shown")
    return report
