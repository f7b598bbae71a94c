"""The LaMP loader and validator: round trips and one test per kind of malformed data."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from lampkit.data.layout import (
    Example,
    LampDataError,
    iter_profile_dates,
    load_outputs,
    load_questions,
    load_split,
    parse_date,
    split_paths,
    task_dir,
    validate_dir,
    write_split,
)
from lampkit.tasks import get_task

# One hand-written valid example per task: the input's content, two profile items, the gold.
_CONTENT = {
    "lamp1": dict(title="Sparse retrieval at scale", ref1="Dense passage retrieval", ref2="Cooking with herbs"),
    "lamp2": dict(description="A crew travels through a wormhole to save humanity."),
    "lamp3": dict(text="Sturdy kettle, boils fast, lid sticks a little."),
    "lamp4": dict(text="The city council approved a new bike lane network on Monday."),
    "lamp5": dict(abstract="We study ranking with feedback from a frozen language model."),
    "lamp6": dict(text="Hi all, the meeting moves to Thursday at 10 in room 4."),
    "lamp7": dict(text="just finished my first marathon, legs are gone"),
}
_PROFILES = {
    "lamp1": [{"id": "p1", "date": "2019", "title": "BM25 revisited", "abstract": "We revisit BM25."},
              {"id": "p2", "date": "2021-03-04", "title": "Neural ranking", "abstract": "A survey."}],
    "lamp2": [{"id": "p1", "date": "2015-06-01", "description": "Robots rebel on Mars.", "tag": "sci-fi"},
              {"id": "p2", "date": "2016", "description": "Two friends road-trip.", "tag": "comedy"}],
    "lamp3": [{"id": "p1", "date": "2020-01-31", "text": "Broke after a week.", "score": "1"},
              {"id": "p2", "date": "2020-02-29", "text": "Works as promised.", "score": "4"}],
    "lamp4": [{"id": "p1", "date": "2018-11-11", "text": "Rain floods the old town.",
               "title": "Old town under water", "category": "local"},
              {"id": "p2", "date": "2018", "text": "Mayor opens market.", "title": "Market opens"}],
    "lamp5": [{"id": "p1", "date": "2012", "title": "Learning to rank", "abstract": "Pairwise losses."},
              {"id": "p2", "date": "2014-07-07", "title": "Query expansion", "abstract": "Expanding queries."}],
    "lamp6": [{"id": "p1", "date": "2001-05-05", "text": "Lunch is on me today.", "title": "lunch"},
              {"id": "p2", "date": "2001-05-06", "text": "Report due Friday.", "title": "report"}],
    "lamp7": [{"id": "p1", "date": "2009-09-09", "text": "coffee first, then the world"},
              {"id": "p2", "date": "2009-10-01", "text": "rainy sunday, good book"}],
}
_GOLDS = {"lamp1": "[1]", "lamp2": "sci-fi", "lamp3": "4", "lamp4": "Council backs bike lanes",
          "lamp5": "Ranking from LLM feedback", "lamp6": "meeting moved", "lamp7": "marathon done, legs gone"}
TASKS = tuple(_CONTENT)


def _example(name: str, qid: str = "q1", user: str | None = "u1") -> Example:
    task = get_task(name)
    return Example(id=qid, input=task.make_input(**_CONTENT[name]), profile=copy.deepcopy(_PROFILES[name]),
                   user_id=user, output=_GOLDS[name])


def _write_task(root: Path, name: str) -> None:
    """A valid train/dev/test tree for one task; test without outputs, as the benchmark has it."""
    write_split(root, name, "train", [_example(name, "q1", "u1"), _example(name, "q2", "u2")])
    write_split(root, name, "dev", [_example(name, "q3", "u1")])
    write_split(root, name, "test", [_example(name, "q4", None)], with_outputs=False)


def _questions(root: Path, name: str, split: str = "train") -> tuple[Path, list]:
    qpath, _ = split_paths(root, name, split)
    return qpath, json.loads(qpath.read_text())


def _outputs(root: Path, name: str, split: str = "train") -> tuple[Path, dict]:
    _, opath = split_paths(root, name, split)
    return opath, json.loads(opath.read_text())


def _dump(path: Path, obj) -> None:
    path.write_text(json.dumps(obj))


def _assert_names(err: LampDataError, path: Path, record: str, field: str | None) -> None:
    msg = str(err)
    assert str(path) in msg and err.file == str(path)
    assert f"record {record}" in msg and err.record == record
    if field is not None:
        assert f"field {field!r}" in msg and err.field == field


# ----- valid data -------------------------------------------------------------------------
@pytest.mark.parametrize("name", TASKS)
def test_round_trip(tmp_path, name):
    _write_task(tmp_path, name)
    train = load_split(tmp_path, name, "train")
    assert train == [_example(name, "q1", "u1"), _example(name, "q2", "u2")]
    test = load_split(tmp_path, name, "test")
    assert [ex.output for ex in test] == [None] and test[0].user_id is None
    assert test[0].input == _example(name).input
    # the extra profile field of LaMP-4 ('category') survives; write_split gives the same bytes back
    qpath, _ = split_paths(tmp_path, name, "train")
    before = qpath.read_bytes()
    write_split(tmp_path, name, "train", train)
    assert qpath.read_bytes() == before


def test_layout_paths(tmp_path):
    assert split_paths(tmp_path, "lamp2", "dev")[0] == tmp_path / "time/LaMP_2/new/dev/dev_questions.json"
    assert task_dir(tmp_path, "LaMP_5", "user") == tmp_path / "LaMP_5"


def test_int_ids_score_and_extra_fields_are_accepted(tmp_path):
    path = tmp_path / "q.json"
    item = {"id": "p1", "date": "2020", "text": "ok", "score": 5, "helpful": 3}
    inp = get_task("lamp3").make_input(text="fine")
    _dump(path, [{"id": 7, "input": inp, "profile": [item], "user_id": 12, "lang": "en"}])
    [ex] = load_questions(path, "lamp3")
    assert (ex.id, ex.user_id, ex.extra) == ("7", "12", {"lang": "en"})
    assert ex.profile == [{"id": "p1", "date": "2020", "text": "ok", "score": "5", "helpful": 3}]
    assert ex.question_record()["lang"] == "en"


def test_load_outputs(tmp_path):
    path = tmp_path / "o.json"
    _dump(path, {"task": "LaMP_3", "golds": [{"id": "a", "output": "5"}, {"id": 2, "output": "1"}]})
    assert load_outputs(path, "lamp3") == {"a": "5", "2": "1"}


def test_require_outputs(tmp_path):
    _write_task(tmp_path, "lamp7")
    _, opath = split_paths(tmp_path, "lamp7", "test")
    with pytest.raises(LampDataError) as e:
        load_split(tmp_path, "lamp7", "test", require_outputs=True)
    assert str(opath) in str(e.value) and "not found" in str(e.value)
    assert all(ex.output is None for ex in load_split(tmp_path, "lamp7", "train", require_outputs=False))


def test_parse_date_orders_chronologically():
    assert parse_date("2020-02-29") == (2020, 2, 29)
    assert parse_date("1999") == (1999,)
    dates = ["2020-01-02", "2019", "2020", "2019-12-31", "2020-01-01"]
    newest_first = ["2020-01-02", "2020-01-01", "2020", "2019-12-31", "2019"]
    assert sorted(dates, key=parse_date, reverse=True) == newest_first
    assert list(iter_profile_dates(_PROFILES["lamp1"])) == [(2019,), (2021, 3, 4)]
    for bad in ["2019-02-29", "2020-13-01", "20-01-01", "2020/01/01", "2020-1-1", "0000", " 2020", ""]:
        with pytest.raises(ValueError):
            parse_date(bad)


# ----- malformed questions ----------------------------------------------------------------
def _break_questions(tmp_path, name, edit):
    _write_task(tmp_path, name)
    qpath, data = _questions(tmp_path, name)
    edit(data)
    _dump(qpath, data)
    with pytest.raises(LampDataError) as e:
        load_questions(qpath, name)
    return qpath, e.value


@pytest.mark.parametrize("field", ["input", "profile", "id"])
def test_missing_question_field(tmp_path, field):
    qpath, err = _break_questions(tmp_path, "lamp4", lambda d: d[1].pop(field))
    _assert_names(err, qpath, "#1" if field == "id" else "q2", field)
    assert "missing field" in str(err)


@pytest.mark.parametrize("field", ["abstract", "date", "id"])
def test_missing_profile_field(tmp_path, field):
    qpath, err = _break_questions(tmp_path, "lamp1", lambda d: d[0]["profile"][1].pop(field))
    record = "q1/profile[1]" if field == "id" else "q1/profile[1] (id p2)"
    _assert_names(err, qpath, record, field)


def test_wrong_types(tmp_path):
    qpath, err = _break_questions(tmp_path, "lamp6", lambda d: d[0].update(input=42))
    _assert_names(err, qpath, "q1", "input")
    qpath, err = _break_questions(tmp_path, "lamp6", lambda d: d[1]["profile"][0].update(title=["a"]))
    _assert_names(err, qpath, "q2/profile[0] (id p1)", "title")
    assert "must be a string, not list" in str(err)
    qpath, err = _break_questions(tmp_path, "lamp6", lambda d: d[0].update(profile={"id": "p1"}))
    _assert_names(err, qpath, "q1", "profile")
    qpath, err = _break_questions(tmp_path, "lamp6", lambda d: d.__setitem__(1, "q2"))
    _assert_names(err, qpath, "#1", None)


@pytest.mark.parametrize("score", ["6", "4.0", 0, 4.0, True, None])
def test_bad_rating_in_profile(tmp_path, score):
    qpath, err = _break_questions(tmp_path, "lamp3", lambda d: d[1]["profile"][0].update(score=score))
    _assert_names(err, qpath, "q2/profile[0] (id p1)", "score")


def test_input_off_template(tmp_path):
    qpath, err = _break_questions(tmp_path, "lamp1", lambda d: d[0].update(input="Which reference is related?"))
    _assert_names(err, qpath, "q1", "input")
    assert "template" in str(err)
    qpath, err = _break_questions(tmp_path, "lamp4", lambda d: d[1].update(
        input=get_task("lamp4").make_input(text="  ")))
    _assert_names(err, qpath, "q2", "input")


def test_empty_profile(tmp_path):
    qpath, err = _break_questions(tmp_path, "lamp2", lambda d: d[1].update(profile=[]))
    _assert_names(err, qpath, "q2", "profile")
    assert "empty profile" in str(err)


@pytest.mark.parametrize("date", ["2021-02-30", "21", "2021-3-4", 2021])
def test_bad_date(tmp_path, date):
    qpath, err = _break_questions(tmp_path, "lamp7", lambda d: d[0]["profile"][1].update(date=date))
    _assert_names(err, qpath, "q1/profile[1] (id p2)", "date")


def test_duplicate_question_ids(tmp_path):
    qpath, err = _break_questions(tmp_path, "lamp5", lambda d: d[1].update(id="q1"))
    _assert_names(err, qpath, "q1 (#1)", "id")
    assert "duplicate" in str(err) and "#0" in str(err)


def test_duplicate_profile_ids(tmp_path):
    qpath, err = _break_questions(tmp_path, "lamp5", lambda d: d[1]["profile"][1].update(id="p1"))
    _assert_names(err, qpath, "q2/profile[1] (id p1)", "id")
    assert "duplicate" in str(err)


def test_invalid_json_names_line_and_column(tmp_path):
    _write_task(tmp_path, "lamp3")
    qpath, data = _questions(tmp_path, "lamp3")
    text = json.dumps(data, indent=1).replace('"q2"', '"q2",,', 1)
    qpath.write_text(text)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if '"q2",,' in row)
    with pytest.raises(LampDataError) as e:
        load_questions(qpath, "lamp3")
    assert str(qpath) in str(e.value) and f"line {line}, column" in str(e.value)
    with pytest.raises(LampDataError, match="line"):
        load_split(tmp_path, "lamp3", "train")


def test_missing_file_names_path_and_layout(tmp_path):
    with pytest.raises(LampDataError) as e:
        load_split(tmp_path, "lamp2", "dev")
    qpath, _ = split_paths(tmp_path, "lamp2", "dev")
    assert str(qpath) in str(e.value) and "LaMP_2/new" in str(e.value)


def test_first_problem_counts_the_rest(tmp_path):
    def edit(d):
        d[0]["profile"][0].pop("title")
        d[1].pop("input")
    qpath, err = _break_questions(tmp_path, "lamp6", edit)
    _assert_names(err, qpath, "q1/profile[0] (id p1)", "title")
    assert "1 more problem" in str(err)


# ----- malformed outputs and mismatches ---------------------------------------------------
def _break_outputs(tmp_path, name, edit):
    _write_task(tmp_path, name)
    opath, data = _outputs(tmp_path, name)
    edit(data)
    _dump(opath, data)
    with pytest.raises(LampDataError) as e:
        load_outputs(opath, name)
    return opath, e.value


@pytest.mark.parametrize("name,gold", [("lamp2", "horror"), ("lamp2", "Sci-Fi"), ("lamp3", "5.0"),
                                       ("lamp3", " 4"), ("lamp1", "1")])
def test_gold_outside_label_set(tmp_path, name, gold):
    opath, err = _break_outputs(tmp_path, name, lambda d: d["golds"][1].update(output=gold))
    _assert_names(err, opath, "q2", "output")
    assert "label" in str(err)


def test_gold_wrong_type_and_duplicate(tmp_path):
    opath, err = _break_outputs(tmp_path, "lamp4", lambda d: d["golds"][0].update(output=None))
    _assert_names(err, opath, "q1", "output")
    opath, err = _break_outputs(tmp_path, "lamp4", lambda d: d["golds"][1].update(id="q1"))
    _assert_names(err, opath, "q1 (#1)", "id")


def test_wrong_task_name(tmp_path):
    opath, err = _break_outputs(tmp_path, "lamp6", lambda d: d.update(task="LaMP_7"))
    assert str(opath) in str(err) and err.field == "task" and "'LaMP_7'" in str(err)
    opath, err = _break_outputs(tmp_path, "lamp6", lambda d: d.update(task="LaMP-6"))
    assert err.field == "task"


def test_id_mismatch_names_the_file_that_lacks_it(tmp_path):
    _write_task(tmp_path, "lamp1")
    qpath, opath = split_paths(tmp_path, "lamp1", "train")
    _, data = _outputs(tmp_path, "lamp1")
    data["golds"][1]["id"] = "q9"
    _dump(opath, data)
    with pytest.raises(LampDataError) as e:
        load_split(tmp_path, "lamp1", "train")
    _assert_names(e.value, opath, "q2", "id")  # the outputs file lacks q2
    assert qpath.name in str(e.value)
    report = validate_dir(tmp_path, "lamp1")
    assert any(p.startswith(f"{qpath}, record q9") for p in report.problems)  # questions lack q9


# ----- whole folders ----------------------------------------------------------------------
def test_validate_dir_counts_a_valid_tree(tmp_path):
    for name in TASKS:
        _write_task(tmp_path, name)
    report = validate_dir(tmp_path)
    assert report.ok, report.format()
    assert set(report.counts) == set(TASKS)
    train = report.counts["lamp3"]["train"]
    assert (train.examples, train.profile_items, train.users, train.golds, train.problems) == (2, 4, 2, True, 0)
    test = report.counts["lamp3"]["test"]
    assert (test.examples, test.users, test.golds) == (1, 1, False)
    text = report.format()
    assert "OK" in text and "golds hidden" in text
    assert len([line for line in text.splitlines() if "LaMP_" in line and "examples" in line]) == 21


def test_validate_dir_collects_problems_from_several_files(tmp_path):
    for name in ("lamp1", "lamp3", "lamp4", "lamp5"):
        _write_task(tmp_path, name)
    q1, data = _questions(tmp_path, "lamp1")
    data[0]["profile"] = []
    data[1]["profile"][0]["date"] = "2019-02-29"
    _dump(q1, data)
    _, o3 = split_paths(tmp_path, "lamp3", "dev")
    o3.write_text('{"task": "LaMP_3", "golds": [')
    _, o5 = split_paths(tmp_path, "lamp5", "dev")
    o5.unlink()
    report = validate_dir(tmp_path, ["lamp1", "lamp2", "lamp3", "lamp4", "lamp5"])
    assert not report.ok
    problems = "\n".join(report.problems)
    assert f"{q1}, record q1, field 'profile'" in problems
    assert f"{q1}, record q2/profile[0] (id p1), field 'date'" in problems
    assert f"{o3}: invalid JSON" in problems
    assert str(o5) in problems and "not found" in problems
    assert str(task_dir(tmp_path, "lamp2")) in problems
    assert len(report.problems) == 5
    # the broken files still count what they could load; lamp4 is clean
    assert report.counts["lamp1"]["train"].examples == 0 and report.counts["lamp4"]["dev"].examples == 1
    assert (report.counts["lamp3"]["dev"].examples, report.counts["lamp3"]["dev"].golds) == (1, False)
    assert report.counts["lamp1"]["train"].problems == 2 and report.counts["lamp4"]["train"].problems == 0
    assert "5 problem(s)" in report.format() and "Problems:" in report.format()


def test_validate_dir_reports_a_missing_train_or_dev_split(tmp_path):
    """Was: OK when a task's dev split was missing, and every chapter then failed on it."""
    import shutil

    _write_task(tmp_path, "lamp4")
    shutil.rmtree(task_dir(tmp_path, "lamp4") / "dev")
    report = validate_dir(tmp_path, "lamp4")
    assert not report.ok and len(report.problems) == 1
    assert str(task_dir(tmp_path, "lamp4") / "dev") in report.problems[0] and "no dev split" in report.problems[0]
    _write_task(tmp_path / "b", "lamp4")  # test is optional (its golds are hidden anyway)
    shutil.rmtree(task_dir(tmp_path / "b", "lamp4") / "test")
    assert validate_dir(tmp_path / "b", "lamp4").ok


def test_validate_dir_caps_problems_per_file(tmp_path):
    _write_task(tmp_path, "lamp7")
    qpath, data = _questions(tmp_path, "lamp7")
    item = data[0]["profile"][0]
    data[0]["profile"] = [dict(item, id=f"p{i}", date="bad") for i in range(30)]
    _dump(qpath, data)
    report = validate_dir(tmp_path, "lamp7")
    assert len(report.problems) == 21 and "10 more problem(s)" in report.problems[-1]
