"""Every number in the book's prose is computed (glued) or labelled as the paper's.

The prose is the markdown of every chapter notebook (``book/0*.ipynb``) and of the book's other
markdown pages (``book/*.md``; the API reference under ``book/api/`` is documentation of code, not
prose). What is not prose is removed first: fenced code and code-like directives (```` ``` ```` and
``~~~`` blocks: code, ``{code-cell}``, ``{math}``, ``{eval-rst}``, ``{literalinclude}`` ...; the
*text* of prose directives such as ``{note}`` or a ``{figure}``'s caption stays, their ``:option:``
lines go), inline code, math (``$...$``, ``$$...$$``), MyST roles and substitutions
(``{glue:text}`name```, ``{func}`...```, ``{doc}`...```, ``{{ name }}``), link and image targets
``](...)``, bare URLs, HTML tags with their attributes, target labels ``(label)=`` and the
numbers of numbered lists.

Every remaining token holding a digit must be allowed by one of these rules, else the test fails
naming the page, the cell and the context:

1. **References**: a number right after a word that names a part of a document or a task:
   Table(s), Figure(s), Section(s), §, chapter(s), Eq./Equation, LaMP- (``Table 3``,
   ``Tables 3 and 5``, ``chapters 3 to 6``, ``chapter 02-04``, ``LaMP-3``), and the tasks'
   names ``lamp1`` .. ``lamp7``.
2. **Names**: a token of ``LITERALS`` (model, metric and format names that hold digits, each with
   its reason) or of ``PHRASES`` (fixed settings of the method the prose defines, with a reason).
3. **Citations**: a year (1900-2099) in a sentence naming authors (``et al.``) or a venue (SIGIR).
4. **The paper's numbers**: any number in a sentence labelled as the paper's, that is a sentence
   containing one of ``PAPER_LABELS`` ("paper's", "the paper reports", "(paper)",
   "Salemi et al.", "Li et al."). A sentence runs from one ``.``, ``!`` or ``?`` followed by a
   space (or a paragraph break) to the next; "et al.", "e.g.", "i.e." and "Eq." do not end one.
5. **Legends**: the single-digit markers of a significance legend (``1 no personalization,
   2 BM25``) in a sentence that says they are markers or superscripts.

Everything else, a count, a rate, a length or a duration written by hand, is to be glued from
the code that computes it (``glue("name", value, display=False)`` and ``{glue:text}`name```).
Numbers written as words ("four", "a quarter") escape this test; the chapters avoid them for
measured quantities.
"""

import json
import re

import pytest

from notebooks import ROOT

BOOK = ROOT / "book"

# Tokens holding a digit that are names, not quantities: (token, reason).
LITERALS = (
    ("all-MiniLM-L6-v2", "the sentence encoder's name"),
    ("MiniLM-L6-v2", "the sentence encoder's name"),
    ("T5", "the model family's name"),
    ("T5s", "the model family's name, plural"),
    ("FlanT5-XXL", "the paper's LLM's name"),
    ("FLAN-T5", "the paper's LLM family's name"),
    ("T5-11B", "Li et al.'s generator's name"),
    ("flan-t5", "the paper's LLM family's name"),
    ("mini-t5", "the embedded LLMs' folder name"),
    ("bfloat16", "a number format's name"),
    ("bf16", "a number format's name"),
    ("float32", "a number format's name"),
    ("fp32", "a number format's name"),
    ("sha256", "a hash function's name"),
    ("ROUGE-1", "a metric's name"),
    ("ROUGE-2", "a metric's name"),
    ("ROUGE-1/2/L", "the metrics' names"),
    ("F1", "a metric's name"),
    ("BM25", "a retriever's name"),
    ("top-1", "the first item of a ranking (the method's baseline item)"),
    ("ROPG-RL", "a method's name"),
    ("x_t", "Li et al.'s symbol"),
)

# Phrases holding a digit that are fixed parts of the method the prose defines: (regex, reason).
PHRASES = (
    (r"\bk ?= ?4\b", "the paper's k = 4 profile items per prompt, a fixed setting of every chapter"),
    (r"\bp < 0\.05\b", "the significance level of the tests, stated where the test is defined"),
    (r"\bx 100\b", "the scale the metrics are printed at"),
    (r"\bitems? [123](?: and [123])?\b", "the items of a worked toy example, named by their position"),
    (r"\bretrievers? [123]\b", "the retrievers of a worked toy example, named by their position"),
    (r"\bEVAL 0, 1 and 0\.5\b", "the worked toy example's input (its code cell defines it)"),
    (r"\bsuccess rate 1\b", "the definition of an oracle: it succeeds on every input"),
    (r"\(0: before training\)", "the label of the first point of a curve"),
    (r"\(0: none\)", "a parameter's off value"),
    (r"(?m)^\|\s*0\d\b", "a chapter's number in a table of the chapters"),
)

PAPER_LABELS = ("paper's", "the paper reports", "(paper)", "salemi et al.", "li et al.")

REFERENCE = re.compile(
    r"(?:\b(?:[Tt]ables?|[Ff]igures?|[Ss]ections?|[Cc]hapters?|[Ee]q\.|[Ee]quations?)|§)\s*"
    r"\(?\d+(?:\.\d+)*\)?(?:\s*(?:\([^)]*\)\s*)?(?:-|to|and|,)\s*\d+(?:\.\d+)*)*")
TASK = re.compile(r"\bLaMP-\d\b|\blamp\d\b|\bLaMP_\d\b")
YEAR = re.compile(r"\b(?:19|20)\d\d\b")
LEGEND = re.compile(r"(?:^|[(,:]\s*|\n)\s*([1-9]) (?=[A-Za-z])")
TOKEN = re.compile(r"[^\s]*\d[^\s]*")
NOT_ENDING = re.compile(r"(?:et al|e\.g|i\.e|[Ee]q|vs|cf)\.$")

CODE_DIRECTIVES = ("code-cell", "code", "code-block", "math", "eval-rst", "literalinclude", "tableofcontents",
                   "glue:figure", "glue", "raw")


def strip_markup(text: str) -> str:
    """The prose of a MyST markdown text: everything the module docstring lists removed."""
    out, lines, i = [], text.split("\n"), 0
    while i < len(lines):
        m = re.match(r"^\s*(`{3,}|~{3,})\s*(\{([\w:-]+)\}|[\w+-]*)?", lines[i])
        if m:
            fence, directive, lang = m.group(1), m.group(3), m.group(2)
            j = i + 1
            while j < len(lines) and not re.match(r"^\s*" + re.escape(fence[0]) + "{%d,}\\s*$" % len(fence), lines[j]):
                j += 1
            if directive and directive not in CODE_DIRECTIVES:  # a prose directive: its text stays
                out += [ln for ln in lines[i + 1:j] if not re.match(r"^\s*:[\w-]+:", ln)]
            elif not directive and not lang:  # an unlabelled fence is code as well
                pass
            i = j + 1
            continue
        out.append(lines[i])
        i += 1
    text = "\n".join(out)
    text = re.sub(r"\$\$.*?\$\$", " ", text, flags=re.S)
    text = re.sub(r"\{[\w:.-]+\}`[^`]*`", " ", text)  # roles: {glue:text}`x:.2f`, {func}`...`, {math}`...`
    text = re.sub(r"``.*?``|`[^`\n]*`", " ", text)
    text = re.sub(r"(?<![\\$])\$[^$\n]+\$", " ", text)
    text = re.sub(r"\{\{[^}]*\}\}", " ", text)
    text = re.sub(r"\]\([^)]*\)", "] ", text)
    text = re.sub(r"<[^>\n]+>", " ", text)
    text = re.sub(r"https?://\S+", " ", text)
    text = re.sub(r"^\s*\([\w:.-]+\)=\s*$", " ", text, flags=re.M)
    text = re.sub(r"^(\s*)\d+\.(?=\s)", r"\1", text, flags=re.M)  # numbered lists
    return text


def sentences(text: str):
    """The sentences of a prose text with their start offsets (see the module docstring)."""
    start = 0
    for m in re.finditer(r"[.!?](?=\s)|\n\s*\n|\n(?=\s*(?:[-*|]|#+) )", text):
        if m.group(0) == "." and NOT_ENDING.search(text[max(0, m.start() - 6):m.end()]):
            continue
        yield start, text[start:m.end()]
        start = m.end()
    yield start, text[start:]


def allowed_spans(sentence: str) -> list[tuple[int, int]]:
    spans = [m.span() for rx in (REFERENCE, TASK) for m in rx.finditer(sentence)]
    spans += [m.span() for rx, _ in PHRASES for m in re.finditer(rx, sentence)]
    lower = sentence.lower()
    if "et al." in lower or "sigir" in lower:
        spans += [m.span() for m in YEAR.finditer(sentence)]
    if "superscript" in lower or "marker" in lower:
        spans += [m.span(1) for m in LEGEND.finditer(sentence)]
    return spans


def unexplained_numbers(text: str) -> list[str]:
    """The contexts of the digits of ``text`` (a page's or cell's markdown) that no rule allows."""
    prose, found = strip_markup(text), []
    literals = {t for t, _ in LITERALS}
    for _, sentence in sentences(prose):
        if any(label in sentence.lower() for label in PAPER_LABELS):
            continue
        spans = allowed_spans(sentence)
        for m in TOKEN.finditer(sentence):
            word = m.group(0).strip(".,;:!?()[]*_\"'")
            if word in literals or word.removesuffix("'s") in literals:
                continue
            digits = [m.start() + d.start() for d in re.finditer(r"\d", m.group(0))]
            if all(any(a <= d < b for a, b in spans) for d in digits):
                continue
            lo, hi = max(0, m.start() - 40), min(len(sentence), m.end() + 40)
            found.append(" ".join(sentence[lo:hi].split()))
    return found


def prose_pages():
    pages = sorted(BOOK.glob("0*.ipynb")) + sorted(BOOK.glob("*.md"))
    assert len(pages) >= 10
    for path in pages:
        if path.suffix == ".ipynb":
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
            for n, cell in enumerate(cells):
                if cell["cell_type"] == "markdown":
                    yield f"book/{path.name} cell {n}", "".join(cell["source"])
        else:
            yield f"book/{path.name}", path.read_text(encoding="utf-8")


def test_every_number_in_the_prose_is_glued_or_the_papers():
    flagged = [f"{where}: '{context}'" for where, text in prose_pages() for context in unexplained_numbers(text)]
    assert not flagged, "numbers written by hand in the prose:\n" + "\n".join(flagged)


@pytest.mark.parametrize("text, bad", [
    ("The selector picks well on 83.5% of the inputs.", ["83.5%"]),
    ("It trains on 400 training and 200 evaluation inputs.", ["400", "200"]),
    ("The paper reports 15.3% for RSPG-Post.", []),
    ("The paper's selector trains for 20 epochs.", []),
    ("In the paper (Figure 3) recency wins on 15.2% of the inputs.", ["15.2%"]),
    ("As in Table 3 and Tables 3 and 5, on LaMP-3 (chapter 04, section 4.2), k = 4.", []),
    ("Salemi, Kallumadi & Zamani (SIGIR 2024) and Li et al. (2023).", []),
    ("A `code 17` span, {glue:text}`n_tasks:.2f`, $x_1 = 2$ and [a link](../x/1.html).", []),
    ("```python\nx = 12\n```\n\n```{note}\nIt ran 12 epochs.\n```", ["12"]),
    ("markers (1 no personalization, 2 BM25)", []),
    ("scores (1 no personalization, 2 BM25)", ["1", "2"]),
])
def test_the_rules(text, bad):
    found = unexplained_numbers(text)
    assert len(found) == len(bad) and all(b in f for b, f in zip(bad, found)), found


def test_every_glue_reference_is_glued_in_its_notebook():
    for path in sorted(BOOK.glob("0*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        glued = re.findall(r"\bglue\(\s*[\"'](\w+)[\"']", code)
        assert len(glued) == len(set(glued)), (path.name, sorted(n for n in glued if glued.count(n) > 1))
        for cell in cells:
            if cell["cell_type"] == "markdown":
                for name in re.findall(r"\{glue(?::\w+)?\}`(\w+)", "".join(cell["source"])):
                    assert name in glued, (path.name, name)
