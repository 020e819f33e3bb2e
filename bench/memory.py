"""How fast the pathological problems' networks forget at initialization: the top Lyapunov exponent
(:meth:`armctl.sequence.rnn.SparseTanhRNN.lyapunov_exponent`, the mean log growth per step of a change of
the hidden state) of the thesis's network, for each problem, ``T``, initialization scales and seed,
on the first 100 sequences of the run's test set (the sequences a run records it on).

    python bench/memory.py --out docs/bench/memory_at_init.json

``-0.3`` per step means an input 100 steps back reaches the output ``e^-30`` weaker; near 0 it is
carried along. The thesis's ch. 4 scales (input std 1, recurrent gain 1) against its ch. 7 ones
(0.02 for addition and multiplication, 0.3 for memorization, gain 1.2) and 0.1 / 1.2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine_info, write_json  # noqa: E402

from armctl import provenance, xla_cpu  # noqa: E402
from armctl.sequence.pathological_experiment import (  # noqa: E402
    LYAPUNOV_SEQUENCES,
    PathologicalConfig,
    _keys,
    _memory_fn,
    test_set,
)

INITS = ((1.0, 1.0), (0.02, 1.2), (0.1, 1.2), (0.3, 1.2))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--problems", default="addition,temporal_order,memorization_5bit")
    parser.add_argument("--T", default="100,200")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--out")
    args = parser.parse_args()
    xla_cpu.prefer_single_threaded_ops()
    rows = []
    for problem in args.problems.split(","):
        for T in map(int, args.T.split(",")):
            for input_std, gain in INITS:
                values = []
                for seed in map(int, args.seeds.split(",")):
                    config = PathologicalConfig(
                        problem=problem,
                        T=T,
                        seed=seed,
                        input_std=input_std,
                        recurrent_gain=gain,
                        test_batch=100,
                    )
                    model = config.rebuild({})
                    params = model.init_params(_keys(config)[0])
                    values.append(
                        float(_memory_fn(model)(params, test_set(config).inputs[:LYAPUNOV_SEQUENCES]))
                    )
                rows.append(
                    {
                        "problem": problem,
                        "T": T,
                        "input_std": input_std,
                        "recurrent_gain": gain,
                        "lyapunov": values,
                    }
                )
                shown = ", ".join(f"{v:.3f}" for v in values)
                print(f"{problem:<18} T={T:<4} init {input_std:g}/{gain:g}: {shown}")
    write_json(args.out, {**provenance.stamp(), "machine": machine_info(), "rows": rows})


if __name__ == "__main__":
    main()
