"""Sources cite the papers' sections, never a specification file outside the repository."""

import re

from notebooks import ROOT

WORD = re.compile(r"\bSPEC\b")


def test_no_file_cites_a_spec():
    files = [ROOT / "README.md"] + [p for d in ("lampkit", "book", "tests") for p in (ROOT / d).rglob("*")
                                    if p.is_file() and "_build" not in p.parts and "__pycache__" not in p.parts
                                    and p.suffix in {".py", ".md", ".ipynb", ".yml", ".yaml", ".txt", ".toml", ".json"}]
    here = __file__
    cited = [f"{p.relative_to(ROOT)}:{n}" for p in files if str(p) != here
             for n, line in enumerate(p.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
             if WORD.search(line)]
    assert not cited, cited
