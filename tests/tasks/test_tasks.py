"""The task registry against hand-built strings (Salemi et al. section 3 and Table 2, the official LaMP code)."""

import pytest

from lampkit.metrics.lamp import eval_signal
from lampkit.tasks import LAMP2_TAGS, TASK_NAMES, WhitespaceCounter, get_task, resolve_tasks


def item(**fields):
    return {"id": fields.pop("id", "p1"), "date": fields.pop("date", "2020-01-01"), **fields}


def test_registry_names_and_lookup():
    assert TASK_NAMES == tuple(f"lamp{i}" for i in range(1, 8))
    assert get_task("LaMP_3").name == "lamp3" and get_task("LaMP-3") is get_task("lamp3")
    assert [t.name for t in resolve_tasks("all")] == list(TASK_NAMES)
    assert [t.name for t in resolve_tasks("lamp2,lamp5")] == ["lamp2", "lamp5"]
    with pytest.raises(KeyError, match="unknown task"):
        get_task("lamp8")


def test_label_sets_and_metrics():
    assert get_task("lamp1").labels == ("[1]", "[2]")
    assert len(LAMP2_TAGS) == 15 and get_task("lamp2").labels == LAMP2_TAGS
    assert get_task("lamp3").labels == ("1", "2", "3", "4", "5")
    assert get_task("lamp3").metrics == ("mae", "rmse") and not get_task("lamp3").higher_is_better
    for name in ("lamp4", "lamp5", "lamp6", "lamp7"):
        assert get_task(name).metrics == ("rouge1", "rougeL") and get_task(name).labels is None
    assert get_task("lamp2").dir_parts == ("LaMP_2", "new")
    assert get_task("lamp6").official == "LaMP_6"


def test_input_templates_to_the_character():
    t = get_task("lamp1").make_input(title="T", ref1="R1", ref2="R2")
    assert t == ('For an author who has written the paper with the title "T", which reference is related? '
                 'Just answer with [1] or [2] without explanation. [1]: "R1" [2]: "R2"')
    t = get_task("lamp2").make_input(description="D")
    assert t.startswith("Which tag does this movie relate to among the following tags? Just answer with the "
                        "tag name without further explanation. tags: [sci-fi, based on a book, comedy, ")
    assert t.endswith("social commentary, violence, true story] description: D")
    assert get_task("lamp3").make_input(text="R") == (
        "What is the score of the following review on a scale of 1 to 5? just answer with 1, 2, 3, 4, "
        "or 5 without further explanation. review: R")
    assert get_task("lamp4").make_input(text="A") == "Generate a headline for the following article: A"
    assert get_task("lamp5").make_input(abstract="A") == "Generate a title for the following abstract of a paper: A"
    assert get_task("lamp6").make_input(text="E") == "Generate a subject for the following email: E"
    assert get_task("lamp7").make_input(text="W") == (
        "Paraphrase the following tweet without any explanation before or after it: W")


@pytest.mark.parametrize("name,content,query", [
    ("lamp1", dict(title="my paper", ref1="first ref", ref2="second ref"), "first ref second ref"),
    ("lamp2", dict(description="a robot: in love"), "a robot: in love"),
    ("lamp3", dict(text="  great blender  "), "great blender"),
    ("lamp4", dict(text="markets fell: today"), "markets fell: today"),
    ("lamp5", dict(abstract="we study x"), "we study x"),
    ("lamp6", dict(text="meeting: at noon"), "meeting: at noon"),
    ("lamp7", dict(text="so tired today"), "so tired today"),
])
def test_query_is_the_non_template_part(name, content, query):
    task = get_task(name)
    assert task.query(task.make_input(**content)) == query


def test_query_missing_marker_is_none():
    assert get_task("lamp2").query("no marker here") is None
    assert get_task("lamp1").query('only "one" quote') is None


def test_index_text_per_task():
    assert get_task("lamp1").index_text(item(title="T", abstract="A", date="2011")) == "T A date: 2011"
    assert get_task("lamp2").index_text(item(description="D", tag="comedy")) == "D date: 2020-01-01"
    assert get_task("lamp3").index_text(item(text="R", score="4")) == "R date: 2020-01-01"
    assert get_task("lamp4").index_text(item(title="H", text="A")) == "H A date: 2020-01-01"
    assert get_task("lamp5").index_text(item(title="T", abstract="A")) == "T A date: 2020-01-01"
    assert get_task("lamp6").index_text(item(title="S", text="B")) == "B date: 2020-01-01"
    assert get_task("lamp7").index_text(item(text="W")) == "W date: 2020-01-01"


def test_entries_per_task():
    assert get_task("lamp1").entry(item(title="T", abstract="A")) == '"T"'
    assert get_task("lamp2").entry(item(description="D", tag="comedy")) == 'the tag for the movie: "D" is "comedy"'
    assert get_task("lamp3").entry(item(text="R", score="4")) == '4 is the score for "R"'
    assert get_task("lamp4").entry(item(title="H", text="A")) == '"H" is the title for "A"'
    assert get_task("lamp5").entry(item(title="T", abstract="A")) == '"T" is the title for "A"'
    assert get_task("lamp6").entry(item(title="S", text="B")) == '"S" is the title for "B"'
    assert get_task("lamp7").entry(item(text="W")) == '"W"'


def test_aggregated_prompts_without_truncation():
    c = WhitespaceCounter()
    t2 = get_task("lamp2")
    inp = t2.make_input(description="a robot falls in love")
    items = [item(id="a", description="space crew drifts", tag="sci-fi"),
             item(id="b", description="a lonely king", tag="classic")]
    assert t2.build_prompt(inp, items, c) == (
        'the tag for the movie: "space crew drifts" is "sci-fi", and '
        'the tag for the movie: "a lonely king" is "classic". ' + inp)

    t1 = get_task("lamp1")
    inp = t1.make_input(title="T", ref1="R one", ref2="R two")
    items = [item(id="a", title="A", abstract="x"), item(id="b", title="B", abstract="y")]
    assert t1.build_prompt(inp, items, c) == (
        'For an author who has written the paper with the title, and "A", and "B" "T", which reference is '
        'related? Just answer with [1] or [2] without explanation. [1]: "R one" [2]: "R two"')

    t5 = get_task("lamp5")
    inp = t5.make_input(abstract="we study x")
    assert t5.build_prompt(inp, [item(title="T", abstract="A")], c) == (
        '"T" is the title for "A". Following the given patterns ' + inp)

    t7 = get_task("lamp7")
    inp = t7.make_input(text="hi")
    assert t7.build_prompt(inp, [item(text="a"), item(id="p2", text="b")], c) == (
        '"a", and "b" are written by a person. Following the given patterns ' + inp)


def test_no_entries_gives_the_bare_input():
    t = get_task("lamp4")
    inp = t.make_input(text="x")
    assert t.build_prompt(inp, [], WhitespaceCounter()) == inp


def test_budget_is_shared_evenly_with_rollover():
    # LaMP-7, whitespace ids (+1 end id). Input: 14 words + 1 = 15 ids; max_length 40:
    # budget = 40 - min(15, 24) = 25; overhead = 2*(2-1) + 1 + (9 words + 1) = 13;
    # per entry = (25 - 13) // 2 = 6; the fixed part '" "' costs 2 + 1 = 3 ids.
    t = get_task("lamp7")
    c = WhitespaceCounter()
    inp = t.make_input(text="w1 w2 w3")
    assert c.count(inp) == 15
    suffix = " are written by a person. Following the given patterns " + inp
    # entry 1: 3 ids left -> 2 words; nothing saved; entry 2 likewise
    got = t.build_prompt(inp, [item(text="a b c d e f g h"), item(id="p2", text="x y z")], c, max_length=40)
    assert got == '"a b", and "x y"' + suffix
    # entry 1 uses 2 of its 3 ids -> 1 id rolls over to entry 2 (4 ids -> 3 words)
    got = t.build_prompt(inp, [item(text="p"), item(id="p2", text="a b c d e")], c, max_length=40)
    assert got == '"p", and "a b c"' + suffix


def test_budget_exhausted_returns_the_input():
    t = get_task("lamp7")
    inp = t.make_input(text="w1 w2 w3")
    assert t.build_prompt(inp, [item(text="a b"), item(id="p2", text="c")], WhitespaceCounter(), max_length=10) == inp


def test_eval_signal_shapes():
    assert eval_signal("lamp1", " [1] ", "[1]") == 1.0
    assert eval_signal("lamp2", "Comedy", "comedy") == 0.0
    assert eval_signal("lamp3", "5", "5") == 1.0
    assert eval_signal("lamp3", "1", "5") == 0.0
    assert eval_signal("lamp3", "4", "5") == pytest.approx(0.75)
    assert eval_signal("lamp3", "three", "3") == 0.0  # unparsable -> the worst rating
    assert eval_signal("lamp4", "the cat sat", "the cat sat") == pytest.approx(1.0)


def test_sign_turns_each_main_metric_into_a_score_to_maximise():
    from lampkit.tasks import TASK_NAMES, direction, get_task

    assert direction(True) == 1.0 and direction(False) == -1.0
    for name in TASK_NAMES:  # LaMP-3 is scored by MAE (lower is better); the others by accuracy, F1 or ROUGE
        assert get_task(name).sign == (-1.0 if get_task(name).main_metric == "mae" else 1.0)
    assert get_task("lamp3").sign == -1.0
