"""Long-form data: the JSONL loader's checks, the writer, and task instances."""

import json

import pytest

from lampkit.data.layout import LampDataError
from lampkit.longform.data import (CONTEXT_CHARS, Document, build_examples, data_root, load_documents, load_split,
                                   write_documents)

LONG = "x" * (CONTEXT_CHARS + 20)


def _write(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _rec(**kw):
    rec = {"author": "a1", "id": "d1", "date": "2020-01-02", "text": "hello there."}
    rec.update(kw)
    return json.dumps(rec)


def test_round_trip_keeps_every_field_and_the_order(tmp_path):
    docs = [Document("a1", "d2", "2020-05-01", "second", {"topic": "ocean"}), Document("a1", "d1", "2019", "first")]
    path = write_documents(tmp_path / "train.jsonl", docs)
    back = load_documents(path)
    assert back == docs
    assert back[0].extra == {"topic": "ocean"}
    assert path.read_text(encoding="utf-8").splitlines()[0] == (
        '{"author": "a1", "id": "d2", "date": "2020-05-01", "text": "second", "topic": "ocean"}')


@pytest.mark.parametrize("line, record, field, words", [
    (_rec(text=""), "line 2 (id d1)", "text", "non-empty string"),
    (_rec(text=None), "line 2 (id d1)", "text", "null"),
    (_rec(date="2020-02-30"), "line 2 (id d1)", "date", "does not exist"),
    (_rec(date="May 2020"), "line 2 (id d1)", "date", "YYYY-MM-DD"),
    (json.dumps({"id": "d1", "date": "2020", "text": "t"}), "line 2 (id d1)", "author", "missing"),
    (_rec(author=7), "line 2 (id d1)", "author", "int"),
    ('{"author": "a1", "id": "d1"', "line 2", None, "invalid JSON"),
    ("[1, 2]", "line 2", None, "JSON object"),
])
def test_bad_records_name_file_line_and_field(tmp_path, line, record, field, words):
    path = _write(tmp_path / "dev.jsonl", [_rec(id="d0"), line])
    with pytest.raises(LampDataError) as err:
        load_documents(path)
    assert err.value.file == str(path)
    assert err.value.record == record
    assert err.value.field == field
    assert words in str(err.value)


def test_duplicate_ids_and_empty_files_are_errors(tmp_path):
    path = _write(tmp_path / "a.jsonl", [_rec(), "", _rec()])
    with pytest.raises(LampDataError, match="duplicate id .first on line 1.") as err:
        load_documents(path)
    assert err.value.record == "line 3 (id d1)"
    with pytest.raises(LampDataError, match="no document"):
        load_documents(_write(tmp_path / "b.jsonl", ["", "  "]))
    with pytest.raises(LampDataError, match="not found"):
        load_documents(tmp_path / "missing.jsonl")


def test_examples_take_the_newest_documents_with_their_earlier_past():
    docs = [Document("a", "a3", "2020-03-01", "3" + LONG), Document("b", "b1", "2020-01-01", "b" + LONG),
            Document("a", "a1", "2020-01-01", "1" + LONG), Document("a", "a2", "2020-02-01", "2" + LONG),
            Document("b", "b2", "2020", "B" + LONG)]
    one = build_examples(docs)
    assert [(e.id, [d.id for d in e.past]) for e in one] == [("a3", ["a1", "a2"]), ("b1", ["b2"])]
    assert one[0].context == ("3" + LONG)[:CONTEXT_CHARS] and one[0].text == "3" + LONG
    two = build_examples(docs, targets_per_author=2)
    assert [(e.id, len(e.past)) for e in two] == [("a2", 1), ("a3", 2), ("b1", 1)]


def test_an_author_without_past_or_a_short_current_document_is_an_error():
    with pytest.raises(LampDataError, match="single document") as err:
        build_examples([Document("a", "a1", "2020", LONG), Document("a", "a2", "2021", LONG),
                        Document("b", "b1", "2020", LONG)], source="f.jsonl")
    assert (err.value.file, err.value.record, err.value.field) == ("f.jsonl", "author b (id b1)", "author")
    with pytest.raises(LampDataError, match="150") as err:
        build_examples([Document("a", "a1", "2020", LONG), Document("a", "a2", "2021", "short")])
    assert err.value.record == "author a (id a2)" and err.value.field == "text"


def test_load_split_reads_a_folder_or_its_longform_subfolder(tmp_path):
    docs = [Document("a", "a1", "2020", LONG), Document("a", "a2", "2021", LONG)]
    write_documents(tmp_path / "longform" / "test.jsonl", docs)
    assert data_root(tmp_path) == tmp_path / "longform"
    assert [e.id for e in load_split(tmp_path, "test")] == ["a2"]
    with pytest.raises(ValueError, match="unknown split"):
        load_split(tmp_path, "valid")
