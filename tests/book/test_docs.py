"""The book's API reference and its links into lampkit, checked without building the book."""

import importlib
import re

import nbformat
import pytest

from notebooks import ROOT, toc_parts, toc_pages

BOOK = ROOT / "book"
API_PAGES = sorted(p for p in (BOOK / "api").glob("*.md"))
AUTO = re.compile(r"^\.\. (?:automodule|autofunction|autoclass|autodata):: (\S+)", re.M)
ROLE = re.compile(r"\{(?:py:)?(?:func|class|meth|mod|data|attr|exc|obj)\}`~?(lampkit[\w.]*)`")


def resolve(target: str):
    """The object a dotted name names: the longest importable module, then attributes."""
    parts = target.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for name in parts[i:]:
            obj = getattr(obj, name)
        return obj
    raise ImportError(target)


@pytest.mark.parametrize("page", API_PAGES, ids=lambda p: p.stem)
def test_every_autodoc_target_of_an_api_page_imports(page):
    targets = AUTO.findall(page.read_text(encoding="utf-8"))
    assert targets, page
    for target in targets:
        assert resolve(target) is not None, target


def test_every_lampkit_module_has_a_place_in_the_api_reference():
    documented = {t for page in API_PAGES for t in AUTO.findall(page.read_text(encoding="utf-8"))}
    package = ROOT / "lampkit"
    modules = {".".join(p.relative_to(ROOT).with_suffix("").parts) for p in package.rglob("*.py")
               if p.name not in ("__init__.py", "__main__.py") and "resources" not in p.parts
               and "cli" not in p.parts}  # the command line documents itself (lampkit --help)
    packages = {".".join(p.parent.relative_to(ROOT).parts) for p in package.rglob("__init__.py")}
    # a module is documented on its own, or through its package's page (a data-only package such as synth)
    missing = sorted(m for m in modules if m not in documented and not any(
        m.startswith(pkg + ".") and pkg in documented for pkg in packages if pkg != "lampkit"))
    assert not missing, f"modules without an API page: {missing}"


def test_the_toc_lists_every_notebook_and_api_page_in_its_part():
    pages = toc_pages()
    assert len(pages) == len(set(pages))
    assert sorted(p for p in pages if not p.startswith("api/") and p != "intro") == sorted(
        p.stem for p in BOOK.glob("*.ipynb"))
    assert sorted(p for p in pages if p.startswith("api/")) == sorted(f"api/{p.stem}" for p in API_PAGES)
    parts = dict(toc_parts())
    assert len(parts) == 4
    sigir, li, practice, api = parts.values()
    assert sigir == ["01_data", "02_retrieval", "03_ropg", "04_selection", "05_oracle", "06_results"]
    assert li == ["07_multistage"] and practice == ["08_real_thing", "09_environment"]
    assert api == [f"api/{p}" for p in ("facade", "tasks", "data", "metrics", "retrievers", "llm", "feedback",
                                        "pipeline", "ropg", "rspg", "analysis", "longform", "store")]


def test_the_facade_page_names_every_facade_verb():
    import lampkit

    text = (BOOK / "api" / "facade.md").read_text(encoding="utf-8")
    for name, (module, attr) in lampkit._FACADE.items():
        assert f"`lampkit.{name}`" in text, name
        assert name == "__version__" or f"`{module}.{attr}`" in text, name


def _markdown_roles():
    for path in sorted(BOOK.glob("*.ipynb")) + sorted(BOOK.glob("*.md")) + API_PAGES:
        if path.suffix == ".ipynb":
            texts = [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"]
        else:
            texts = [path.read_text(encoding="utf-8")]
        for text in texts:
            for target in ROLE.findall(text):
                yield path.name, target


def test_every_lampkit_role_of_the_book_resolves():
    roles = list(_markdown_roles())
    assert len({p for p, _ in roles}) >= 9  # every chapter says what it runs
    for page, target in roles:
        try:
            resolve(target)
        except (ImportError, AttributeError) as err:
            pytest.fail(f"{page}: {target} does not resolve ({err})")


def test_every_chapter_says_what_it_runs():
    for path in sorted(BOOK.glob("*.ipynb")):
        cells = nbformat.read(path, as_version=4).cells
        heads = [i for i, c in enumerate(cells) if c.cell_type == "markdown" and "What this chapter runs" in c.source]
        assert heads and heads[0] <= 3, path.name
        assert ROLE.search(cells[heads[0]].source), path.name


def test_literalincludes_name_objects_of_lampkit():
    include = re.compile(r"```\{literalinclude\} \.\./(lampkit/\S+\.py)\n(?::\w+:.*\n)*?:pyobject: (\w+)")
    seen = []
    for path in sorted(BOOK.glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            for file, obj in include.findall(cell.source):
                assert (ROOT / file).exists(), file
                module = importlib.import_module(file[:-3].replace("/", "."))
                assert callable(getattr(module, obj)), (file, obj)
                seen.append(obj)
    assert {"log_policy", "rl_loss", "kd_target", "kd_loss", "target_distribution", "kl_loss"} <= set(seen)
