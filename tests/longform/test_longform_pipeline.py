"""Pipeline configurations, the generator inputs they build, and the base's pre-training mixture."""

import pytest

from lampkit.longform import synth
from lampkit.longform.data import build_examples
from lampkit.longform.generator import AUTHOR_INSTRUCTION, INSTRUCTION
from lampkit.longform.pipeline import MIXTURE_FORMATS, PipelineConfig, build_inputs, chapter_configs, mixture
from lampkit.longform.rankers import RecentDoc, concat_entries
from lampkit.longform.synthesis import DocumentFrequencies, key_elements, summarize


@pytest.fixture(scope="module")
def data():
    docs = synth.generate(5, "tiny")["train"]
    return build_examples(docs, targets_per_author=2), DocumentFrequencies(d.text for d in docs)


def test_the_chapter_compares_every_ranker_then_adds_summary_synthesis_and_multitask():
    rankers, ablation = chapter_configs("RankSnippet")
    assert [(c.ranker, c.summary, c.keywords, c.multitask) for c in rankers[:2]] == [
        (None, False, False, False), ("RecentDoc", False, False, False)]
    assert [(c.ranker, c.summary, c.keywords, c.multitask) for c in ablation] == [
        ("RankSnippet", False, False, False), ("RankSnippet", True, False, False),
        ("RankSnippet", True, True, False), ("RankSnippet", True, True, True)]
    with pytest.raises(ValueError, match="unknown ranker"):
        PipelineConfig("x", "Oracle")


def test_inputs_hold_exactly_the_sections_of_the_configuration(data):
    examples, dfs = data
    entries = RecentDoc().rank_many(examples)
    full = build_inputs(PipelineConfig("full", "RecentDoc", summary=True, keywords=True), examples, entries, dfs)
    ex, ent = examples[0], entries[0]
    passages = concat_entries(ent)
    assert full[0] == (f"{INSTRUCTION}. passage start: {ex.context} summary: {summarize([e.text for e in ent])} "
                       f"important words: {', '.join(key_elements(passages, dfs))} past passages: {passages}")
    bare = build_inputs(PipelineConfig("none"), examples, None)
    assert bare[0] == f"{INSTRUCTION}. passage start: {ex.context}"
    with pytest.raises(ValueError, match="document frequencies"):
        build_inputs(PipelineConfig("k", "RecentDoc", keywords=True), examples, entries)
    with pytest.raises(ValueError, match="entry lists"):
        build_inputs(PipelineConfig("r", "RecentDoc"), examples, entries[:-1])


def test_the_mixture_draws_every_format_and_adds_balanced_author_pairs(data):
    examples, dfs = data
    inputs, targets = mixture(examples, dfs, seed=3, author_share=0.2)
    n_pairs = round(0.2 / 0.8 * len(examples))
    assert len(inputs) == len(targets) == len(examples) + n_pairs
    pairs = [(x, y) for x, y in zip(inputs, targets) if x.startswith(AUTHOR_INSTRUCTION)]
    assert len(pairs) == n_pairs
    assert sorted(y for _, y in pairs) == ["false"] * (n_pairs - n_pairs // 2) + ["true"] * (n_pairs // 2)
    generation = {y for x, y in zip(inputs, targets) if x.startswith(INSTRUCTION)}
    assert generation == {ex.target for ex in examples}
    assert any("past passages:" not in x for x in inputs if x.startswith(INSTRUCTION))
    assert any("summary:" in x for x in inputs) and any("important words:" in x for x in inputs)
    assert (inputs, targets) == mixture(examples, dfs, seed=3, author_share=0.2)
    assert mixture(examples, dfs, seed=4, author_share=0.2) != (inputs, targets)
    assert set(MIXTURE_FORMATS) >= {"none", "RecentDoc", "RankDocBM25"}
