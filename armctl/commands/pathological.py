"""``armctl pathological``: train an RNN on one pathological problem, or sweep problems x lengths.

    armctl pathological addition --T 50 --optimizer hf --seed 0
    armctl pathological sweep --problems addition,temporal_order --T 30,50 --out runs/patho

Batch sizes default to the thesis's (10,000 / 1,000 sequences, test 10,000); smaller ones make
reduced versions feasible on a laptop CPU.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from armctl.commands import add_scale_arguments
from armctl.sequence import pathological
from armctl.sequence.train_pathological import OPTIMIZERS, TrainConfig, sweep, train


def _ints(text: str) -> list[int]:
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"expected comma-separated integers, got {text!r}") from None
    if not values:
        raise ValueError(f"expected comma-separated integers, got {text!r}")
    return values


def _names(text: str, allowed, what: str) -> list[str]:
    names = [x.strip() for x in text.split(",") if x.strip()]
    bad = [n for n in names if n not in allowed]
    if bad or not names:
        raise ValueError(
            f"unknown {what} {bad or text!r}; expected comma-separated names from {sorted(allowed)}"
        )
    return names


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "pathological",
        help="RNN on the pathological long-range problems (thesis sec. 4.3)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("problem", choices=[*pathological.PROBLEMS, "sweep"], help="a problem, or 'sweep'")
    parser.add_argument("--T", default="50", help="length parameter; comma-separated list for a sweep")
    parser.add_argument(
        "--optimizer", default="hf", help=f"one of {', '.join(OPTIMIZERS)} (comma-separated for a sweep)"
    )
    parser.add_argument("--seed", default="0", help="seed (comma-separated for a sweep)")
    parser.add_argument("--problems", default="addition", help="sweep: comma-separated problem names")
    parser.add_argument("--out", help="sweep: output directory (required); single run: JSON file to write")
    parser.add_argument("--grad-batch", type=int, help="sequences per gradient (default: the thesis's)")
    parser.add_argument("--curvature-batch", type=int, help="sequences per curvature product (default 1000)")
    parser.add_argument("--test-batch", type=int, default=10_000, help="test sequences (default 10000)")
    parser.add_argument("--max-cg", type=int, default=300, help="CG steps per HF iteration (default 300)")
    parser.add_argument(
        "--cg-reduction-stop",
        type=float,
        default=0.0,
        help="HF: stop CG once the objective's reduction on the curvature batch falls below this "
        "fraction of its maximum (thesis appendix 4.4: 0.9; default 0: off, see docs/RESULTS.md)",
    )
    parser.add_argument(
        "--float64", action="store_true", help="train in double precision (5-bit memorization at T >= 100)"
    )
    parser.add_argument("--max-minibatches", type=float, default=50_000, help="failure bound (default 50000)")
    parser.add_argument("--max-seconds", type=float, help="wall-clock bound per run (a failure when hit)")
    parser.add_argument("--eval-every", type=float, default=10.0, help="minibatches between test evaluations")
    parser.add_argument("--hidden", type=int, default=100, help="tanh hidden units (default 100)")
    parser.add_argument(
        "--input-std",
        type=float,
        default=1.0,
        help="std of the nonzero input weights at initialization (thesis: 1; see docs/RESULTS.md)",
    )
    parser.add_argument(
        "--recurrent-gain",
        type=float,
        default=1.0,
        help="scale of the nonzero recurrent weights at initialization, about their spectral radius "
        "(thesis: 1)",
    )
    parser.add_argument("--lr", type=float, help="first-order learning rate")
    parser.add_argument("--clip", type=float, default=1.0, help="first-order gradient-norm clip")
    add_scale_arguments(parser)
    parser.set_defaults(func=run_command)


def _overrides(args) -> dict:
    return {
        "grad_batch": args.grad_batch,
        "curvature_batch": args.curvature_batch,
        "test_batch": args.test_batch,
        "max_cg": args.max_cg,
        "cg_reduction_stop": args.cg_reduction_stop or None,
        "float64": args.float64,
        "max_minibatches": args.max_minibatches,
        "max_seconds": args.max_seconds,
        "eval_every": args.eval_every,
        "n_hidden": args.hidden,
        "input_std": args.input_std,
        "recurrent_gain": args.recurrent_gain,
        "learning_rate": args.lr,
        "clip": args.clip,
        "devices": args.devices,
        "remat_block": args.remat_block,
    }


def run_command(args) -> int:
    lengths, seeds = _ints(args.T), _ints(args.seed)
    optimizers = _names(args.optimizer, OPTIMIZERS, "optimizer")
    if args.problem == "sweep":
        if not args.out:
            raise ValueError("sweep needs --out DIR")
        problems = _names(args.problems, pathological.PROBLEMS, "problem")
        results = sweep(problems, lengths, optimizers, seeds, args.out, **_overrides(args))
        out = Path(args.out)
        print(f"wrote {out / 'results.json'} and {out / 'sweep.png'} ({len(results)} runs)")
        return 0
    if len(lengths) != 1 or len(seeds) != 1 or len(optimizers) != 1:
        raise ValueError("a single run takes one --T, one --seed and one --optimizer (use 'sweep' for lists)")
    config = TrainConfig(args.problem, lengths[0], optimizers[0], seeds[0], **_overrides(args))
    result = train(config)
    verdict = "success" if result.success else "failure"
    print(
        f"{verdict}: {args.problem} T={config.T} {config.optimizer} seed={config.seed}: "
        f"{result.minibatches:.1f} minibatches, {result.iterations} iterations, "
        f"test error {100 * result.test_error:.2f}%, {result.wall_time:.1f} s"
    )
    if args.out:
        Path(args.out).write_text(json.dumps(result.as_dict(), indent=1))
    return 0 if result.success else 1
