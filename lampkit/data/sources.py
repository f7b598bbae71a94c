"""Where a chapter's data comes from: real LaMP files, or the embedded mini-LaMP (cached)."""

from __future__ import annotations

from pathlib import Path

from lampkit.store.deps import depends_on
from lampkit.store.cache import ArtifactCache
from lampkit.data.layout import Example, load_split
from lampkit.tasks import Task, get_task

__all__ = ["SYNTH_MODULES", "SCALE_ENV", "resolve_scale", "mini_lamp_dir", "resolve_data_dir", "load"]

# the environment variable that sets the scale of chapters that leave it unset (the tests build
# the whole book at the tiny scale this way)
SCALE_ENV = "LAMPKIT_SCALE"

# the code a mini-LaMP tree depends on: a change here regenerates it
# the generator and what it imports (the package name covers every file of lampkit/data/synth)
SYNTH_MODULES = depends_on("lampkit.data.synth")


def resolve_scale(scale: str | None) -> str:
    """``scale`` as given; None: ``$LAMPKIT_SCALE`` when set, else ``"default"``."""
    import os

    return scale if scale is not None else os.environ.get(SCALE_ENV) or "default"


def mini_lamp_dir(scale: str | None = "default", seed: int = 0, cache: ArtifactCache | None = None) -> Path:
    """The embedded mini-LaMP at ``scale`` and ``seed``, generated once into the artifact cache."""
    from lampkit.data import synth

    cache = cache or ArtifactCache()
    scale = resolve_scale(scale)

    def build(tmp: Path) -> None:
        synth.write_mini_lamp(tmp, seed=seed, scale=scale)

    return cache.get_or_build("mini-lamp", {"scale": scale, "seed": seed}, build, SYNTH_MODULES)


def resolve_data_dir(data_dir: str | Path | None = None, scale: str | None = "default", seed: int = 0,
                     cache: ArtifactCache | None = None) -> Path:
    """``data_dir`` when given (real LaMP files), else the embedded mini-LaMP."""
    if data_dir:
        path = Path(data_dir).expanduser()
        if not path.is_dir():
            raise FileNotFoundError(f"data_dir {str(path)!r} is not a folder of LaMP files")
        return path
    return mini_lamp_dir(scale, seed, cache)


def load(task: str | Task, split: str, data_dir: str | Path | None = None, scale: str | None = "default",
         seed: int = 0, scheme: str = "time") -> list[Example]:
    """Examples of one task and split from ``data_dir`` or the embedded mini-LaMP."""
    root = resolve_data_dir(data_dir, scale, seed)
    return load_split(root, get_task(task), split, scheme=scheme)
