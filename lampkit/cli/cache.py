"""``lampkit cache info`` and ``lampkit cache clear``: the artifact cache's entries, their sizes, and removing them.

The cache (``$LAMPKIT_CACHE``, else ``~/.cache/lampkit``; :mod:`lampkit.store.cache`) holds what
every stage can recompute: mini-LaMP trees, embeddings, the LLM's feedback, trained retrievers and
selectors. Clearing an entry costs only the time to rebuild it.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from lampkit.config import ConfigError
from lampkit.store import cache

__all__ = ["add_cli", "human_size"]


def human_size(n: int) -> str:
    """Bytes as B, KiB, MiB or GiB, one decimal above bytes."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def _root(args: argparse.Namespace) -> Path:
    return Path(args.root).expanduser() if args.root else cache.default_root()


def _cmd_info(args: argparse.Namespace) -> int:
    root = _root(args)
    found = cache.entries(root)
    print(f"lampkit cache: {root}" + ("" if found else " (empty)"))
    if found:
        width = max(len(e.name) for e in found)
        for e in found:
            items = f"{e.items} artifact{'s' if e.items != 1 else ''}" if e.folder else "file"
            print(f"  {e.name:<{width}}  {human_size(e.size):>10}  {items:<14} {e.what}")
        print(f"  {'total':<{width}}  {human_size(sum(e.size for e in found)):>10}")
    return 0


def _cmd_clear(args: argparse.Namespace) -> int:
    root = _root(args)
    try:
        removed = cache.clear(args.entries, root)
    except KeyError as err:
        raise ConfigError(str(err).strip("\"'")) from None
    for e in removed:
        print(f"removed {e.name} ({human_size(e.size)})")
    print(f"cleared {len(removed)} entr{'y' if len(removed) == 1 else 'ies'} of {root}, "
          f"{human_size(sum(e.size for e in removed))}")
    return 0


def add_cli(sub: Any) -> None:
    """``cache info`` and ``cache clear`` under the subcommands ``sub``."""
    group = sub.add_parser("cache", help="the artifact cache: its entries and sizes (info), removing them (clear)")
    commands = group.add_subparsers(dest="cache_command", required=True)
    where = "the cache folder (default: $LAMPKIT_CACHE, else ~/.cache/lampkit)"
    p = commands.add_parser("info", help="each entry of the cache with its size and what it holds")
    p.add_argument("--root", default=None, help=where)
    p.set_defaults(func=_cmd_info)
    p = commands.add_parser("clear", help="remove entries of the cache (none named: every entry); all are recomputed")
    p.add_argument("entries", nargs="*", metavar="ENTRY", help="entries to remove, as `lampkit cache info` names them")
    p.add_argument("--root", default=None, help=where)
    p.set_defaults(func=_cmd_clear)
