"""``armctl lm``: character-level language models (RNN, MRNN, LSTM, mLSTM) trained with HF, AHF or Adam.

armctl lm train --model mlstm --corpus default --seed 0 --minutes 10
armctl lm eval RUN_DIR
armctl lm sample RUN_DIR --prompt "The meaning of" --temperature 1.0 --length 200 --seed 0
armctl lm bench --model mlstm --batch-size 100
"""

from __future__ import annotations

import argparse
import json
import os

from armctl.commands import add_scale_arguments
from armctl.controllers.lm import MODELS

DEFAULTS_NOTE = (
    "defaults follow the thesis (ch. 5.4.2) and Krause (2015); see armctl.sequence.train_lm.LMConfig"
)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "lm",
        help="character-level language models",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="lm_command", required=True, metavar="ACTION")

    p = sub.add_parser("train", help="train a model; prints bpc as it goes", epilog=DEFAULTS_NOTE)
    p.add_argument("--model", choices=sorted(MODELS), default="mlstm")
    p.add_argument(
        "--corpus", default="default", help="'default' (pydoc topics), a text file, text8/enwik8, PTB dir"
    )
    p.add_argument("--optimizer", choices=("hf", "ahf", "adam"), default="hf")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--minutes", type=float, default=10.0, help="wall-clock budget")
    p.add_argument("--max-steps", type=int, default=None)
    p.add_argument("--hidden", type=int, default=None, help="hidden units (default: about 200k parameters)")
    p.add_argument("--batch-size", type=int, default=None, help="sequences per gradient batch")
    p.add_argument("--curvature-fraction", type=float, default=0.1)
    p.add_argument("--lambda-init", type=float, default=10.0)
    p.add_argument("--mu", type=float, default=0.1, help="structural damping coefficient (HF)")
    p.add_argument("--max-cg", type=int, default=150)
    p.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate")
    p.add_argument("--clip", type=float, default=1.0, help="Adam gradient-norm clipping threshold")
    p.add_argument("--context", type=int, default=50)
    p.add_argument("--predict", type=int, default=200)
    p.add_argument(
        "--min-count", type=int, default=5, help="rarer training characters become the unknown symbol"
    )
    p.add_argument("--eval-seconds", type=float, default=30.0, help="validate and checkpoint this often")
    add_scale_arguments(p)
    p.add_argument("--out", default=None, help="run directory (default runs/lm/MODEL_OPTIMIZER_seedN)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out for --minutes more")
    p.set_defaults(func=_train)

    p = sub.add_parser("eval", help="bits per character on the validation and test splits")
    p.add_argument("run_dir")
    p.set_defaults(func=_eval)

    p = sub.add_parser("sample", help="generate text from a prompt")
    p.add_argument("run_dir")
    p.add_argument("--prompt", default="The meaning of")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--length", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_sample)

    p = sub.add_parser("bench", help="characters per second for gradients and curvature products")
    p.add_argument("--model", choices=sorted(MODELS), default="mlstm")
    p.add_argument("--hidden", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=100, help="sequences per batch")
    p.add_argument("--repeats", type=int, default=3)
    p.set_defaults(func=_bench)


def _train(args) -> int:
    from armctl.sequence import train_lm

    config = train_lm.LMConfig(
        model=args.model,
        hidden=args.hidden,
        corpus=args.corpus,
        min_count=args.min_count,
        optimizer=args.optimizer,
        seed=args.seed,
        context=args.context,
        predict=args.predict,
        batch_size=args.batch_size,
        curvature_fraction=args.curvature_fraction,
        lambda_init=args.lambda_init,
        structural_mu=args.mu,
        max_cg=args.max_cg,
        learning_rate=args.lr,
        clip_norm=args.clip,
        minutes=args.minutes,
        max_steps=args.max_steps,
        eval_seconds=args.eval_seconds,
        remat_block=args.remat_block,
        devices=args.devices,
    )
    run_dir = args.out or os.path.join("runs", "lm", f"{args.model}_{args.optimizer}_seed{args.seed}")
    summary = train_lm.train(config, run_dir, resume=args.resume)
    print(json.dumps(summary, indent=1))
    return 0


def _eval(args) -> int:
    from armctl.sequence import train_lm

    print(json.dumps(train_lm.evaluate_run(args.run_dir), indent=1))
    return 0


def _sample(args) -> int:
    from armctl.sequence import train_lm

    print(train_lm.sample_run(args.run_dir, args.prompt, args.length, args.temperature, args.seed))
    return 0


def _bench(args) -> int:
    from armctl.sequence import train_lm

    print(json.dumps(train_lm.throughput(args.model, args.hidden, args.batch_size, args.repeats), indent=1))
    return 0
