"""Chapter 07's orchestration end to end on tiny settings, its caching and its command line."""

import argparse
import json
import shutil

import pytest

from lampkit.store.cache import ArtifactCache
from lampkit.longform import experiment
from lampkit.longform.config import FINETUNE_STEPS, GeneratorConfig
from lampkit.longform.metrics import METRICS
from lampkit.longform.pipeline import PipelineConfig, build_inputs, chapter_configs
from lampkit.cli import longform as longform_cli

TINY = GeneratorConfig(batch_size=4, vocab_size=150, d_model=16, d_ff=32, d_kv=8, num_heads=2, max_input_tokens=64,
                       max_target_tokens=6)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, tiny_encoder_dir):
    cache = ArtifactCache(tmp_path_factory.mktemp("cache"))
    settings = experiment.LongformSettings(scale="tiny", encoder=str(tiny_encoder_dir), base_model="train",
                                           base_steps=3, steps=2, generator=TINY, threads=1, show_progress=False,
                                           base_seeds=(1,))
    return settings, cache, experiment.run(settings, cache)


def test_every_ranker_and_ablation_row_is_reported_with_markers(tiny_run):
    settings, _, results = tiny_run
    rankers, ablation = chapter_configs()
    assert [c.name for c in results.rankers] == ["no past passages", "RecentDoc", "RankDocBM25", "RankDocDense",
                                                 "RankSnippet", "RankDocBySnpt"]
    assert [c.name for c in results.ablation] == ["RankDocBySnpt", "+ Su", "+ Su + Sy", "+ Su + Sy + multitask"]
    assert list(results.metrics.columns) == list(METRICS)
    assert set(results.metrics.index) == {c.name for c in rankers + ablation}
    n = len(results.examples)
    assert all(len(results.predictions[name]) == n == len(results.scores[name]) for name in results.metrics.index)
    table = results.table("rankers")
    assert list(table.index) == [c.name for c in rankers]
    assert list(table.columns) == ["BLEU", "ROUGE-1", "ROUGE-2", "ROUGE-L"]
    assert all("<b>" in "".join(table[m]) for m in table.columns)  # the best of each column in bold
    assert list(results.table("ablation").index) == [c.name for c in ablation]


def test_inputs_hold_the_sections_of_their_configuration(tiny_run):
    _, _, results = tiny_run
    first = {name: inputs[0] for name, inputs in results.inputs.items()}
    assert "past passages:" not in first["no past passages"]
    assert "past passages:" in first["RankDocBM25"] and "summary:" not in first["RankDocBM25"]
    assert "summary:" in first["+ Su"] and "important words:" not in first["+ Su"]
    assert "important words:" in first["+ Su + Sy"]
    assert first["+ Su + Sy"] == first["+ Su + Sy + multitask"]  # multitask changes training only


def test_a_second_run_loads_everything_from_the_cache(tiny_run):
    settings, cache, results = tiny_run
    again = experiment.run(settings, cache)
    assert again.predictions == results.predictions
    assert again.metrics.equals(results.metrics)
    assert set(again.timings.index) == set(results.timings.index)


def test_the_shipped_base_is_used_only_while_the_data_it_learned_is_current(tiny_run, tmp_path, monkeypatch):
    settings, cache, _ = tiny_run
    trained = experiment.base_generator(settings, cache)
    assert trained.name == "model" and (trained / "data.json").exists()
    shipped = tmp_path / "base"
    shutil.copytree(trained, shipped)
    monkeypatch.setattr(experiment, "EMBEDDED_BASE", shipped)
    embedded = settings.with_(base_model="embedded")
    assert not experiment.embedded_base_is_current()  # pre-trained on tiny data of seed 1, not the shipped corpus
    assert experiment.base_generator(embedded, cache) == trained
    fingerprint = experiment.synthetic_fingerprint(experiment.EMBEDDED_SEEDS, "default")
    (shipped / "data.json").write_text(json.dumps({"source": "test", "fingerprint": fingerprint}))
    assert experiment.base_generator(embedded, cache) == shipped
    assert experiment.base_generator(settings.with_(base_model=str(trained)), cache) == trained
    with pytest.raises(FileNotFoundError, match="no saved generator"):
        experiment.base_generator(settings.with_(base_model=str(tmp_path)), cache)


def test_the_scale_comes_from_the_environment_when_unset_and_sets_the_fine_tuning_steps(monkeypatch):
    monkeypatch.setenv("LAMPKIT_SCALE", "tiny")
    settings = experiment.LongformSettings()
    assert settings.scale == "tiny" and settings.finetune.steps == FINETUNE_STEPS["tiny"]
    assert experiment.LongformSettings(scale="small", steps=7).finetune.steps == 7
    monkeypatch.delenv("LAMPKIT_SCALE")
    assert experiment.LongformSettings().scale == "default"
    assert experiment.LongformSettings().base.steps == 3000


def test_settings_and_configurations_reject_what_cannot_run():
    with pytest.raises(ValueError, match="evaluation seed"):
        experiment.LongformSettings(seed=1, base_seeds=(1, 2))
    with pytest.raises(ValueError, match="dev or test"):
        experiment.LongformSettings(eval_split="train")
    with pytest.raises(ValueError, match="need ranked entries"):
        PipelineConfig("bad", None, summary=True)
    with pytest.raises(ValueError, match="exactly when"):
        build_inputs(PipelineConfig("x", "RecentDoc"), [], None)


def test_cli_writes_the_data(tmp_path):
    parser = argparse.ArgumentParser()
    longform_cli.add_cli(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["longform", "synth", "--out", str(tmp_path), "--scale", "tiny", "--seed", "2"])
    assert args.func(args) == 0
    assert sorted(p.name for p in (tmp_path / "longform").iterdir()) == ["dev.jsonl", "test.jsonl", "train.jsonl"]
    args = parser.parse_args(["longform", "run", "--scale", "tiny", "--eval-split", "dev", "--threads", "1"])
    settings = experiment.LongformSettings.from_args(args)
    assert (settings.scale, settings.eval_split, settings.threads, settings.data_dir) == ("tiny", "dev", 1, None)
    assert settings == experiment.LongformSettings(scale="tiny", eval_split="dev", threads=1)


def test_the_report_writes_its_sentences_from_the_numbers(tiny_run):
    from lampkit.longform import report
    from lampkit.metrics.significance import paired_ttest

    settings, cache, results = tiny_run
    text = report.findings_markdown(results, "rouge1")
    diff = 100 * (results.metrics.loc["+ Su", "rouge1"] - results.metrics.loc["RankDocBySnpt", "rouge1"])
    p = paired_ttest(results.scores["+ Su"]["rouge1"], results.scores["RankDocBySnpt"]["rouge1"])[1]
    assert f"+ Su {diff:+.2f} (" in text and f"p = {p:.3g}" in text
    assert text.count("\n- ") == 2 and "ROUGE-1" in text
    with pytest.raises(KeyError, match="unknown metric"):
        report.findings_markdown(results, "meteor")
    view = report.pipeline_markdown(results, 0, results.dfs)
    assert results.examples[0].id in view and "| RankSnippet | 1 |" in view and "Key elements:" in view
    outputs = report.outputs_markdown(results, 0)
    assert all(f"| {name} |" in outputs for name in results.predictions)
    stats = report.statistics(experiment.documents(settings, cache))
    assert list(stats.index) == ["train", "dev", "test"] and stats.loc["test", "authors"] == len(results.examples)


def test_the_results_report_their_tables(tiny_run, tmp_path):
    from lampkit.store.report import read_tables

    _, _, results = tiny_run
    tables = results.tables()
    assert set(tables) == {"rankers", "ablation", "rankers_markers", "ablation_markers", "timings"}
    names = [c.name for c in results.rankers]
    assert tables["rankers"].equals(results.metrics.loc[names].rename_axis("configuration"))  # the numbers, as run
    assert tables["rankers_markers"].index.tolist() == names
    text = results.to_text()
    assert "rankers (x 100)" in text and "ablation (x 100)" in text and "measured build times" in text
    assert (100 * tables["rankers"]).round(2).to_string() in text
    results.save(tmp_path / "saved", command="lampkit longform run")
    info = json.loads((tmp_path / "saved" / "provenance.json").read_text())
    assert info["tables"]["timings"]["measured"] and not info["tables"]["rankers"]["measured"]
    assert "lampkit.longform.generator" in info["fingerprint"]["modules"]
    assert "timings" not in read_tables(tmp_path / "saved")
