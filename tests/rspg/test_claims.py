"""What reproduces (lampkit.rspg.claims): the six claims per task, their verdicts and the paper's."""

import json

import numpy as np
import pytest

from fakes import FakeLLM, lamp2_examples
from lampkit.analysis.table3 import table3
from lampkit.pipeline import Settings, context
from lampkit.retrievers import BM25, Dense, NoPersonalization, Recency
from lampkit.rspg.claims import CLAIMS, claims, paper_verdicts
from lampkit.rspg.stage import QPP_METHODS, SELECTORS, RspgConfig, run_selection

pytestmark = pytest.mark.usefixtures("one_thread")

LAMP2 = {"train": lamp2_examples(24, seed=0), "test": lamp2_examples(16, seed=1)}
BASE = ("none", "bm25", "recency", "dense")


@pytest.fixture()
def ctx(tmp_path, monkeypatch):
    monkeypatch.setenv("LAMPKIT_CACHE", str(tmp_path / "cache"))
    return context(Settings(task="lamp2", store=str(tmp_path / "feedback.sqlite"), show_progress=False),
                   llm_for=FakeLLM())


@pytest.fixture()
def ablation(ctx, tiny_encoder, tiny_encoder_dir):
    """The two pools with ROPG-shaped stand-ins: dense retrievers that read fewer tokens."""
    config = RspgConfig(encoder=str(tiny_encoder_dir), max_length=32, epochs=2, lr=1e-2)
    base = [NoPersonalization(), Recency(), BM25(), Dense(tiny_encoder)]
    full = [*base, Dense(tiny_encoder, name="ropg-rl", max_length=8), Dense(tiny_encoder, name="ropg-kd", max_length=12)]
    return {"full": {"lamp2": run_selection(ctx, "lamp2", full, config, "test", examples=LAMP2)},
            "no-ropg": {"lamp2": run_selection(ctx, "lamp2", base, config, "test", examples=LAMP2)}}


def _table(sel):
    outputs = sel.feedback.pivot(index="example_id", columns="retriever", values="output")
    ids = [str(e.id) for e in sel.examples]
    predictions = {name: list(outputs[name].reindex(ids)) for name in sel.pool}
    order = list(dict.fromkeys(sel.feedback["example_id"]))
    wide = outputs.reindex(order)[sel.pool].to_numpy()
    for mode in SELECTORS:
        chosen = np.asarray(sel.choices[mode])
        predictions[mode] = [wide[order.index(i), chosen[order.index(i)]] for i in ids]
    return table3({"lamp2": predictions}, {"lamp2": [e.output for e in sel.examples]}, baselines=BASE)


def test_six_claims_per_task_with_verdicts_computed_from_the_numbers(ablation, tmp_path):
    sel = ablation["full"]["lamp2"]
    result = claims(ablation, _table(sel), "test")
    by_claim = {r["claim"]: r for r in result.records}
    assert list(by_claim) == list(CLAIMS) and all(r["task"] == "lamp2" for r in result.records)
    rates = sel.success_rates()
    assert by_claim["d"]["holds"] == all(rates[s] > rates[q] for s in SELECTORS for q in QPP_METHODS)
    oracle = sel.matrix.max(axis=1).mean()
    assert by_claim["f"]["numbers"]["oracle upper bound (main metric)"] == pytest.approx(oracle)
    assert by_claim["f"]["holds"] == (oracle > sel.metrics().loc["rspg-post", "accuracy"])
    without = ablation["no-ropg"]["lamp2"].metrics()["accuracy"]
    assert by_claim["e"]["holds"] == all(sel.metrics().loc[m, "accuracy"] > without[m] for m in SELECTORS)
    b = by_claim["b"]["numbers"]
    assert by_claim["b"]["holds"] == (b["ropg-rl"] > b["dense"] and b["ropg-kd"] > b["dense"])
    # significant: every comparison of the claim below alpha; a claim without a test is never significant
    for r in result.records:
        assert r["significant"] == (bool(r["p_values"]) and all(p < 0.05 for p in r["p_values"].values()))
    # the tables and the JSON records
    tables = result.tables()
    assert list(tables["claims"].index) == [("lamp2", c) for c in CLAIMS]
    assert tables["summary"].loc["lamp2", "hold here"] == sum(r["holds"] for r in result.records)
    records = json.loads(result.to_json(tmp_path / "claims.json").read_text())
    assert [r["claim"] for r in records] == list(CLAIMS)
    assert {"task", "claim", "holds", "numbers", "p_values", "paper_holds"} <= set(records[0])


def test_the_papers_verdicts_come_from_its_printed_tables():
    paper = paper_verdicts()
    # LaMP-2 accuracy in the paper's Table 3: ROPG-RL 0.391 and ROPG-KD 0.396 against Contriever's 0.396
    assert paper[("lamp2", "b")] is False
    # RSPG-Post 0.430 >= RSPG-Pre 0.405 >= the best single retriever (0.396)
    assert paper[("lamp2", "c")] is True
    assert paper[("lamp2", "d")] is True and paper[("lamp2", "f")] is True
    assert paper[("lamp3", "f")] is True  # an error: the oracle's is lower
    assert paper[("lamp2", "e")] is None  # not among the stored tables


def test_claims_need_both_pools(ablation):
    with pytest.raises(ValueError, match="'full' and 'no-ropg'"):
        claims({"full": ablation["full"]}, _table(ablation["full"]["lamp2"]))


class _ConstantLLM(FakeLLM):
    """One answer whatever the prompt, and never the gold: every method scores 0."""

    def __init__(self) -> None:
        super().__init__()
        self.model_id = "constant-llm"

    def generate(self, prompts, batch_size=32, show_progress=False):
        self.calls += 1
        return ["no idea"] * len(prompts)


def test_degenerate_results_render_with_undefined_marked(tmp_path, monkeypatch, tiny_encoder, tiny_encoder_dir):
    """Was: chapter 06 died ("Encountered all NA values") when no personalization scored 0 everywhere."""
    from lampkit.analysis import table3 as results
    from lampkit.analysis.paper import paper_table

    monkeypatch.setenv("LAMPKIT_CACHE", str(tmp_path / "cache"))
    ctx = context(Settings(task="lamp2", store=str(tmp_path / "constant.sqlite"), show_progress=False),
                  llm_for=_ConstantLLM())
    config = RspgConfig(encoder=str(tiny_encoder_dir), max_length=32, epochs=1, lr=1e-2)
    base = [NoPersonalization(), Recency(), BM25(), Dense(tiny_encoder)]
    full = [*base, Dense(tiny_encoder, name="ropg-rl", max_length=8), Dense(tiny_encoder, name="ropg-kd", max_length=12)]
    ablation = {"full": {"lamp2": run_selection(ctx, "lamp2", full, config, "test", examples=LAMP2)},
                "no-ropg": {"lamp2": run_selection(ctx, "lamp2", base, config, "test", examples=LAMP2)}}
    sel = ablation["full"]["lamp2"]
    assert (sel.matrix == 0).all()
    table = _table(sel)
    assert (table.values.drop(columns="rrf") == 0).all().all()  # this pool's table has no RRF column
    html = table.html()  # a constant table still renders (its best is the first column)
    assert "<table" in html
    avg = results.average_relative_improvement(table.values, table.higher)
    assert avg.isna().all()
    shown = results.percent_or_undefined(avg)
    assert set(shown) == {results.UNDEFINED}
    text = results.reading(table, paper_table("table3"))
    assert f"{results.UNDEFINED} on every row" in text and "nan" not in text.lower()
    found = claims(ablation, table, "test")
    assert len(found.records) == len(CLAIMS)
    assert found.tables()["summary"].loc["lamp2", "claims"] == len(CLAIMS)
    assert all(isinstance(r["holds"], bool) for r in found.records)  # a verdict for every claim, no crash
    assert "lamp2" in found.to_text()
