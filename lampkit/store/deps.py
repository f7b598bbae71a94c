"""The lampkit modules a module depends on, read from the imports in its source (no import runs).

A stage keys its cached artifacts with the code version of what it computes with: the closure of
its compute modules' imports (function-level imports included), so a new import brings its module
into the key and nothing is kept by hand.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

__all__ = ["module_path", "direct_imports", "depends_on"]

_PKG = Path(__file__).resolve().parent.parent  # the lampkit package


def module_path(module: str) -> Path | None:
    """The source file of a lampkit module or package (its ``__init__.py``); None when there is none."""
    rel = module.split(".")[1:]
    base = _PKG.joinpath(*rel)
    if (base / "__init__.py").exists():
        return base / "__init__.py"
    if base.with_suffix(".py").exists():
        return base.with_suffix(".py")
    return None


@lru_cache(maxsize=None)
def direct_imports(module: str) -> frozenset[str]:
    """The lampkit modules ``module`` imports anywhere in its source (absolute or relative imports)."""
    path = module_path(module)
    if path is None:
        raise ValueError(f"no lampkit module {module!r}")
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            if name == "lampkit" or name.startswith("lampkit."):
                # the longest prefix that is a module: `from lampkit.x import y` names lampkit.x.y if it is one
                parts = name.split(".")
                while parts and module_path(".".join(parts)) is None:
                    parts.pop()
                if len(parts) > 1:
                    found.add(".".join(parts))
    found.discard(module)
    return frozenset(found)


@lru_cache(maxsize=None)
def depends_on(*roots: str) -> tuple[str, ...]:
    """``roots`` and every lampkit module they import, directly or not (sorted).

    The package faces (``__init__.py``) on the way count as modules; the top-level facade
    (``lampkit`` itself) does not, as nothing computes in it.
    """
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        todo.extend(direct_imports(m) - seen)
    return tuple(sorted(seen))
