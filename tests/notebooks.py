"""Running a chapter as typed with papermill (a private artifact cache) and reading its outputs."""

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]


def toc_parts(book: Path = ROOT / "book") -> list[tuple[str, list[str]]]:
    """Each part of the book's table of contents: its caption and the files of its chapters."""
    toc = yaml.safe_load((book / "_toc.yml").read_text())
    return [(part["caption"], [c["file"] for c in part["chapters"]]) for part in toc["parts"]]


def toc_pages(book: Path = ROOT / "book") -> list[str]:
    """Every page of the table of contents, in order: the root first."""
    toc = yaml.safe_load((book / "_toc.yml").read_text())
    return [toc["root"], *(f for _, files in toc_parts(book) for f in files)]


def run_chapter(name, tmp_path, timeout=600, **params):
    out = tmp_path / f"{name}.out.ipynb"
    args = [sys.executable, "-m", "papermill", str(ROOT / "book" / f"{name}.ipynb"), str(out),
            "--log-level", "ERROR", "-k", "python3"]
    for key, value in params.items():
        args += ["-p", key, str(value)]
    env = dict(os.environ, LAMPKIT_CACHE=str(tmp_path / "cache"), HF_HUB_OFFLINE="1")
    subprocess.run(args, check=True, env=env, cwd=ROOT / "book", timeout=timeout)
    return nbformat.read(out, as_version=4)


def outputs_text(nb):
    texts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            texts.append(str(out.get("text", "")) + str(data.get("text/markdown", "")) + str(data.get("text/plain", "")))
    return "\n".join(texts)
