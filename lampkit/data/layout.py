"""The LaMP data layer: the official JSON layout, loading and validation.

Layout (the official LaMP release, the data of Salemi et al. section 6.1):
``{root}/{scheme}/LaMP_{N}/{split}/{split}_questions.json`` and
``..._outputs.json`` with ``scheme`` = ``time`` (time-based split) or ``user`` (user-based,
which the official release keeps at ``{root}/LaMP_{N}/...``); movie tagging sits under
``LaMP_2/new``. The test split's outputs are hidden by the benchmark, so they may be absent.

The loaders check every record and raise :class:`~lampkit.data.records.LampDataError` naming the file, the record
(the question id, ``#12`` for the 13th record when no id can be read, or
``q7/profile[3] (id p42)`` for a profile item) and the field. :func:`validate_dir` runs
the same checks over a whole data folder and gathers every problem instead of stopping.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from lampkit.data.checks import Problems, parse_outputs, parse_questions
from lampkit.data.records import (HIDDEN_GOLD_SPLITS, LAYOUT, SPLITS, Example, LampDataError, iter_profile_dates,
                                  parse_date)
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

# the splits every chapter reads (a missing one is a problem for validate_dir); test is optional, and
# the benchmark hides its golds
CHAPTER_SPLITS = ("train", "dev")
_MAX_PROBLEMS_PER_FILE = 20  # validate_dir shows this many problems per file, then a count


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


def load_questions(path: str | Path, task: str | Task) -> list[Example]:
    """The examples of one ``*_questions.json`` file, every record checked.

    Each record is an object with ``id`` (a string; an int is accepted and converted to str),
    ``input`` (a non-empty string from which ``task.query`` extracts a non-empty query),
    ``profile`` (a non-empty list) and optionally ``user_id`` (string or int, kept as str).
    Each profile item has a string ``id`` unique in its profile, a ``date`` (``YYYY-MM-DD``
    or ``YYYY``) and every field of ``task.profile_fields`` as a string; a rating task's
    rating field may also be an int and must be one of ``task.labels`` (it is kept as str).
    Question ids are unique in the file. Unknown fields are kept: in ``Example.extra`` for
    a question, in the item dict for a profile item. Raises :class:`~lampkit.data.records.LampDataError`.
    """
    t = get_task(task)
    problems = Problems(Path(path))
    parsed = parse_questions(Path(path), t, problems)
    problems.raise_first()
    assert parsed is not None
    return parsed[0]


def load_outputs(path: str | Path, task: str | Task, check_labels: bool = True) -> dict[str, str]:
    """Outputs by id from ``{"task": "LaMP_N", "golds": [{"id", "output"}, ...]}`` (golds, or
    predictions in the same layout).

    The task name must be ``task.official``; each output is a string and, with ``check_labels``
    for a task with a label set (classification, rating), exactly one of its labels (``"5.0"`` is
    not ``"5"``; predictions are not checked so: a wrong label is a wrong answer, not bad input);
    ids (string, or int converted to str) are unique. Raises :class:`~lampkit.data.records.LampDataError`.
    """
    t = get_task(task)
    problems = Problems(Path(path))
    golds = parse_outputs(Path(path), t, problems, check_labels)
    problems.raise_first()
    assert golds is not None
    return golds


def _check_split(root: str | Path, task: Task, split: str, scheme: str,
                 require_outputs: bool | None) -> tuple[list[Example], bool, list[Problems]]:
    """Examples of one split (with golds when read), whether golds were read, and the problems:
    the questions file's, the outputs file's, then ids that one of the two lacks."""
    qpath, opath = split_paths(root, task, split, scheme)
    qprob, oprob, mismatch = Problems(qpath), Problems(opath), Problems(opath)
    problems = [qprob, oprob, mismatch]
    parsed = parse_questions(qpath, task, qprob)
    golds = None
    if require_outputs or (require_outputs is None and opath.exists()):
        golds = parse_outputs(opath, task, oprob)
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
    ids and gold ids must be the same sets. Raises :class:`~lampkit.data.records.LampDataError` (the first problem;
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

    A missing task folder, or one with none of ``splits``, is a problem, and so is a missing train
    or dev folder (``CHAPTER_SPLITS``, which every chapter reads); an absent test folder is
    skipped. Outputs files are required for every split but the test
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
        for split in (s for s in CHAPTER_SPLITS if s in splits and s not in present):
            report.problems.append(f"{tdir / split}: {task.official} has no {split} split folder; the chapters "
                                   f"need {' and '.join(CHAPTER_SPLITS)} (ROPG and RSPG train on train, "
                                   f"and dev holds their tuning and the golds that real LaMP hides for test)")
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
