"""``armctl upgrade RUN_DIR ... --trust-pickle``: convert run directories of armctl 0.1, whose
checkpoint is a pickle (``checkpoint.pkl``), to the data-only checkpoint (``checkpoint.npz``).

Reading a pickle runs whatever code its author put in it, and the checksum in its header says only
that the file is intact, not who wrote it. So armctl reads such a checkpoint only here, and only
when ``--trust-pickle`` says you trust where the run directory came from.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from armctl import checkpoint, runs


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "upgrade",
        help="convert armctl 0.1 run directories (pickle checkpoints) to data-only checkpoints",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR")
    parser.add_argument(
        "--trust-pickle",
        action="store_true",
        help="you trust where these run directories came from (reading a pickle can run code)",
    )
    parser.set_defaults(func=execute)


def execute(args) -> int:
    for run_dir in args.run_dirs:
        legacy = run_dir / runs.LEGACY_CHECKPOINT
        if not legacy.is_file():
            raise FileNotFoundError(
                f"no armctl 0.1 checkpoint in {run_dir} ({runs.LEGACY_CHECKPOINT} is missing)"
            )
    if not args.trust_pickle:
        raise ValueError(
            "these checkpoints are pickles, and reading a pickle can run code: convert them only if you "
            "trust where they came from, with --trust-pickle"
        )
    for run_dir in args.run_dirs:
        checkpoint.upgrade(run_dir / runs.LEGACY_CHECKPOINT, run_dir / runs.CHECKPOINT, trust_pickle=True)
        checkpoint.load(run_dir / runs.CHECKPOINT)  # read back before the pickle goes
        (run_dir / runs.LEGACY_CHECKPOINT).unlink()
        print(f"{run_dir}: {runs.LEGACY_CHECKPOINT} -> {runs.CHECKPOINT}")
    return 0
