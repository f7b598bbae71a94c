"""The set-up the README promises: two commands, one environment, CI running the tests."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _name(req: str) -> str:
    return re.split(r"[<>=!~ \[;]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject_requirements() -> dict[str, str]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(meta["dependencies"])
    for extra in ("book", "test"):
        reqs += meta["optional-dependencies"][extra]
    return {_name(r): r.replace(" ", "") for r in reqs}


def _environment_requirements() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    return {_name(r): r.replace(" ", "") for r in pip if not r.startswith("-e")}


def test_environment_yml_agrees_with_pyproject():
    assert _environment_requirements() == _pyproject_requirements()
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]


def test_pins_that_matter():
    reqs = _pyproject_requirements()
    assert reqs["torch"] == "torch==2.13.0"
    assert reqs["jupyter-book"] == "jupyter-book>=1.0.4.post1,<2"


def test_makefile_installs_torch_before_lampkit():
    text = (ROOT / "Makefile").read_text()
    torch_at = text.index("install torch==2.13.0")
    lampkit_at = text.index('install -e ".[book,test]"')
    assert torch_at < lampkit_at


def test_readme_commands_and_ci():
    readme = (ROOT / "README.md").read_text()
    assert "make book" in readme and "make test" in readme
    ci = (ROOT / ".ci" / "run").read_text()
    assert "set -euo pipefail" in ci and "make test" in ci


def test_book_config_is_where_jupyter_book_finds_it():
    assert (ROOT / "book" / "_config.yml").exists() and (ROOT / "book" / "_toc.yml").exists()
    assert not (ROOT / "_config.yml").exists() and not (ROOT / "_toc.yml").exists()
    toc = yaml.safe_load((ROOT / "book" / "_toc.yml").read_text())
    for part in toc["parts"]:
        for chapter in part["chapters"]:
            stem = ROOT / "book" / chapter["file"]
            assert stem.with_suffix(".ipynb").exists() or stem.with_suffix(".md").exists(), chapter
