"""``lampkit rspg``: the command line of :mod:`lampkit.rspg.stage`."""

from __future__ import annotations

import argparse

from lampkit.cli.core import _add_core
from lampkit.rspg.stage import MODES, RspgConfig, Settings, TABLE4_COLUMNS, end_to_end, run_rspg, table4, table5


def _layers(value: str) -> int | None:
    return None if value == "all" else int(value)


def add_cli(sub) -> None:
    """Add ``rspg`` to the subparsers ``sub`` of the lampkit command line."""
    p = sub.add_parser("rspg", help="retriever selection: RSPG, QPP baselines, success rates, oracle bounds")
    _add_core(p)
    p.add_argument("--mode", default="both", choices=[*MODES, "both"], help="RSPG-Pre, RSPG-Post or both")
    p.add_argument("--eval-split", default="test", choices=["dev", "test"])
    p.add_argument("--without-ropg", action="store_true", help="the ablation's pool (no ROPG retrievers)")
    p.add_argument("--llm", default=None, help="HF seq2seq name or folder (default: the embedded small T5)")
    p.add_argument("--encoder", default=None, help="dense retriever's encoder (default: the embedded MiniLM)")
    p.add_argument("--k", type=int, default=4)
    p.add_argument("--beams", type=int, default=4)
    p.add_argument("--store", default=None, help="feedback store file (default: in the cache)")
    d = RspgConfig()
    p.add_argument("--selector-encoder", default=d.encoder,
                   help="selector's encoder (default: the embedded MiniLM; the paper: allenai/longformer-base-4096)")
    p.add_argument("--encoder-layers", type=_layers, default=d.encoder_layers,
                   help="bottom transformer layers of the selector's encoder kept: N or all (default: 1)")
    p.add_argument("--max-length", type=int, default=d.max_length, help="selector input tokens")
    p.add_argument("--trainable-layers", type=_layers, default=d.trainable_layers,
                   help="top encoder layers trained: 0 = frozen encoder (default), N, or all")
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--qpp-k", type=int, default=d.qpp_k, help="depth of WIG and NQC")
    p.add_argument("--qpp-x", type=float, default=d.qpp_x, help="fraction x of sigma_x%%")
    p.set_defaults(func=rspg_cli)


def rspg_cli(args: argparse.Namespace) -> int:
    """``lampkit rspg``: Table 4 (success rates), the end-to-end metrics and the oracle bounds, printed."""
    settings = Settings(task=args.task, data_dir=args.data_dir, scale=args.scale, seed=args.seed, llm=args.llm,
                        encoder=args.encoder, k=args.k, beams=args.beams, store=args.store)
    config = RspgConfig(encoder=args.selector_encoder, encoder_layers=args.encoder_layers,
                        max_length=args.max_length, trainable_layers=args.trainable_layers, epochs=args.epochs,
                        lr=args.lr, batch_size=args.batch_size, qpp_k=args.qpp_k, qpp_x=args.qpp_x)
    modes = MODES if args.mode == "both" else (args.mode,)
    results = run_rspg(settings, config, args.eval_split, with_ropg=not args.without_ropg, modes=modes)
    keep = [c for c in TABLE4_COLUMNS if not c.startswith("rspg_") or c.removeprefix("rspg_") in modes]
    print(f"Success rate ({args.eval_split} split; a choice succeeds when tied for best):")
    print(table4(results)[[*keep, "best_single", "best_single_rate", "oracle"]].round(4).to_string())
    print("\nEnd-to-end metrics:")
    print(end_to_end(results).round(4).to_string())
    print("\nOracle bounds of the pool (main metric):")
    print(table5({"no-ropg" if args.without_ropg else "full": results}).round(4).to_string())
    return 0
