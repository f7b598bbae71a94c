"""The build record of the environment page (lampkit.environment)."""

import json

from lampkit import environment
from lampkit.retrievers.encoders import folder_id
from lampkit.pipeline import Settings


def test_record_identifies_data_and_models(tmp_path, monkeypatch, quick_llm):
    monkeypatch.setenv("LAMPKIT_CACHE", str(tmp_path / "cache"))
    settings = Settings(task="lamp2,lamp5", scale="tiny", seed=3, llm=str(quick_llm))
    record = environment.build_record(settings)
    from lampkit.data.sources import mini_lamp_dir
    from lampkit.data.synth import MANIFEST

    manifest = json.loads((mini_lamp_dir("tiny", 3) / MANIFEST).read_text())
    assert record["data"]["fingerprint"] == manifest["fingerprint"]
    assert record["llm"] == {"lamp2": folder_id(quick_llm), "lamp5": folder_id(quick_llm)}
    assert record["encoder"]["identity"].startswith("sha256:")
    assert record["settings"]["seed"] == 3 and record["settings"]["scale"] == "tiny"
    assert record["packages"]["torch"].startswith("2.13.0")
    table = environment.record_table(record)
    assert list(table.columns) == ["section", "item", "value"]
    assert len(table) == sum(len(v) for v in record.values())


def test_real_data_is_hashed_from_its_files(tmp_path):
    (tmp_path / "a.json").write_text("[1]")
    first = environment.data_identity(tmp_path, "default", 0)
    (tmp_path / "a.json").write_text("[2]")
    assert environment.data_identity(tmp_path, "default", 0)["fingerprint"] != first["fingerprint"]
    assert first["data"] == str(tmp_path)


def test_missing_packages_are_reported_not_raised():
    assert environment.package_versions(("no-such-distribution-xyz",)) == {"no-such-distribution-xyz": "not installed"}
