"""Command-line pieces the subcommands share."""

from __future__ import annotations

import argparse
from pathlib import Path


def _add_core(p: argparse.ArgumentParser) -> None:
    """The core parameters every chapter takes."""
    p.add_argument("--task", default="all", help="lamp1..lamp7, a comma-separated list, or all")
    p.add_argument("--data-dir", type=Path, default=None, help="real LaMP files (default: mini-LaMP)")
    p.add_argument("--scale", default="default", choices=["tiny", "small", "default"])
    p.add_argument("--seed", type=int, default=0)
