"""``armctl lm``: character-level language models (RNN, MRNN, LSTM, mLSTM) trained with HF, AHF or Adam.

armctl lm train --model mlstm --corpus default --seed 0 --minutes 10
armctl lm train --resume RUN_DIR --minutes 20
armctl lm eval RUN_DIR
armctl lm sample RUN_DIR --prompt "The meaning of" --temperature 1.0 --length 200 --seed 0
armctl lm bench --model mlstm --batch-size 100
"""

from __future__ import annotations

import argparse

from armctl import checkpoint
from armctl.commands import add_run_arguments, config_from, positive_integer, positive_number
from armctl.sequence.char_models import MODELS

DEFAULTS_NOTE = (
    "defaults follow the thesis (ch. 5.4.2) and Krause (2015); optimizer settings: "
    "their 'lm' defaults in armctl.optim.registry"
)


def register(subparsers) -> None:
    from armctl.sequence.lm_experiment import LMConfig

    parser = subparsers.add_parser(
        "lm",
        help="character-level language models",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="lm_command", required=True, metavar="ACTION")

    p = sub.add_parser("train", help="train a model; reports bpc as it goes", epilog=DEFAULTS_NOTE)
    add_run_arguments(p, LMConfig)
    p.set_defaults(func=_train)

    p = sub.add_parser("eval", help="bits per character on the validation and test splits")
    p.add_argument("run_dir")
    p.set_defaults(func=_eval)

    p = sub.add_parser("sample", help="generate text from a prompt")
    p.add_argument("run_dir")
    p.add_argument("--prompt", default="The meaning of")
    p.add_argument("--temperature", type=positive_number, default=1.0)
    p.add_argument("--length", type=positive_integer, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_sample)

    p = sub.add_parser("bench", help="characters per second for gradients and curvature products")
    p.add_argument("--model", choices=sorted(MODELS), default="mlstm")
    p.add_argument("--hidden", type=positive_integer, default=None)
    p.add_argument("--batch-size", type=positive_integer, default=100, help="sequences per batch")
    p.add_argument("--repeats", type=positive_integer, default=3)
    p.set_defaults(func=_bench)


def _train(args) -> int:
    from armctl.sequence import lm_experiment

    lm_experiment.train(
        config_from(args, lm_experiment.LMConfig), resume=args.resume is not None, force=args.force
    )
    return 0


def _eval(args) -> int:
    from armctl.sequence import lm_experiment

    print(checkpoint.json_text(lm_experiment.evaluate(args.run_dir)))
    return 0


def _sample(args) -> int:
    from armctl.sequence import lm_experiment

    print(lm_experiment.sample_run(args.run_dir, args.prompt, args.length, args.temperature, args.seed))
    return 0


def _bench(args) -> int:
    from armctl.sequence import lm_experiment

    print(
        checkpoint.json_text(lm_experiment.throughput(args.model, args.hidden, args.batch_size, args.repeats))
    )
    return 0
