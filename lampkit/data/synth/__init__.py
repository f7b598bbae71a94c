"""mini-LaMP: the synthetic LaMP benchmark that lampkit generates in the official JSON layout.

Users have latent habits per topic and per anchor that show only through their profiles; each
input is drawn from a regime (plain, lexical, semantic, drift, misleading) that decides which
retriever finds the evidence behind its gold. ``story_markdown()`` tells the whole story.

- :func:`generate_task` builds one task in memory (``Example.extra`` holds the latent facts:
  strip it before :func:`lampkit.data.layout.write_split`, which writes ``extra`` into the records);
- :func:`write_mini_lamp` writes the official files, the latent facts and a manifest;
- :func:`fingerprint` identifies the data a model was trained on.
"""

from __future__ import annotations

from typing import Any

from lampkit.data.layout import SPLITS
from lampkit.tasks import Task
from lampkit.data.synth.settings import REGIME_SHARES, REGIMES, SCALES, Scale, get_scale
from lampkit.data.synth.story import story_markdown
from lampkit.data.synth.world import generate_task
from lampkit.data.synth.writer import GENERATOR_VERSION, MANIFEST, fingerprint, latent_path, load_latent, write_mini_lamp

__all__ = ["GENERATOR_VERSION", "MANIFEST", "SCALES", "Scale", "REGIMES", "REGIME_SHARES", "get_scale",
           "generate_task", "latent", "write_mini_lamp", "fingerprint", "latent_path", "load_latent",
           "story_markdown"]


def latent(task: str | Task, scale: str | Scale = "default", seed: int = 0) -> dict[str, list[dict[str, Any]]]:
    """The latent facts of every input of one task, per split (each with its ``id``)."""
    data = generate_task(task, scale, seed)
    return {s: [{"id": ex.id, **ex.extra} for ex in data[s]] for s in SPLITS}
