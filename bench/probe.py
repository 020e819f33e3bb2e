"""A hostile probe of armctl's doors (issue #41): bad inputs, concurrency, faults, crafted files.

Each case runs in a fresh process and an empty directory against one armctl installation
(``--python`` is its interpreter, so an older armctl's venv is probed with the same cases), and its
outcome is put in one class:

* ``clear error``: refused with an error line naming the bad value (CLI exit 1 or 2, no
  traceback; Python: a ``ValueError``/``FileNotFoundError`` whose message holds the case's token);
* ``correct``: what should work worked (and the case's check of the result passed);
* ``silent wrong``: a wrong result without a word (success where an error was due, NaN, code run
  from a data file);
* ``raw traceback``: a traceback, or an exception of another type at the Python API;
* ``unhelpful``: refused, but the message does not name the problem (or a valid request refused);
* ``data loss``: a run that should survive did not;
* ``hang``: no answer within the timeout.

    python bench/probe.py --out probe.json                       # this armctl
    python bench/probe.py --python /path/to/old/venv/bin/python  # another one, same cases

The cases use what both the armctl of 0.1 and this one have (the command line and the Python API);
the counts per class are what the issue's note reports before and after.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_json  # noqa: E402

TINY = ["random-reach", "--hidden", "4", "4", "--task-option", "batch_size=4", "--task-option", "horizon=8"]
CLASSES = ("clear error", "correct", "silent wrong", "raw traceback", "unhelpful", "data loss", "hang")


@dataclasses.dataclass
class Case:
    """``argv`` (after ``armctl``) or ``code`` (Python); ``expect`` ``'error'`` or ``'ok'``; ``token``
    a text a clear error names; ``setup`` commands run first; ``check(workdir, proc) -> class``
    overrides the classification where the outcome needs a look at the files."""

    name: str
    argv: list[str] | None = None
    code: str | None = None
    expect: str = "error"
    token: str = ""
    setup: list[list[str]] = dataclasses.field(default_factory=list)
    check: Callable | None = None


def _run_dir_survived(name: str) -> Callable:
    def check(workdir: Path, proc) -> str | None:
        config = workdir / name / "config.json"
        if not config.is_file() or json.loads(config.read_text()).get("seed") != 0:
            return "data loss"
        return None

    return check


CRAFT = """
import hashlib, json, pickle, pathlib, shutil, sys
run = pathlib.Path("run")
for name in ("checkpoint.npz", "checkpoint.pkl"):
    (run / name).unlink(missing_ok=True)
class Payload:
    def __reduce__(self):
        return (open, ("ran", "w"))
payload = pickle.dumps(Payload())
digest = hashlib.sha256(payload).hexdigest()
header = {"format": "armctl-checkpoint", "version": 1, "sha256": digest, "bytes": len(payload)}
(run / "checkpoint.pkl").write_bytes(json.dumps(header).encode() + b"\\n" + payload)
"""


def _crafted_check(workdir: Path, proc) -> str | None:
    return "silent wrong" if (workdir / "ran").exists() else None


def _python(code: str) -> str:
    return textwrap.dedent(code)


CASES = [
    Case("steps 0", argv=["train", *TINY, "--steps", "0"], token="steps"),
    Case("unknown task", argv=["train", "juggling"], token="juggling"),
    Case("unknown optimizer option", argv=["train", *TINY, "--optimizer-option", "lamda=1"], token="lamda"),
    Case("bad option value", argv=["train", *TINY, "--optimizer-option", "lambda_init=abc"], token="abc"),
    Case(
        "option given twice",
        argv=[
            "train",
            *TINY,
            "--steps",
            "1",
            "--optimizer-option",
            "lambda_init=1",
            "--optimizer-option",
            "lambda_init=2",
        ],
        token="lambda_init",
    ),
    Case(
        "per-optimizer budget given twice",
        argv=[
            "compare",
            "random-reach",
            "--optimizers",
            "ahf,lbfgs",
            "--function-calls",
            "ahf=20,ahf=30,lbfgs=20",
            "--hidden",
            "4",
            "4",
            "--task-option",
            "batch_size=4",
            "--task-option",
            "horizon=8",
            "--out",
            "cmp",
        ],
        token="ahf",
    ),
    Case(
        "sweep lengths given twice",
        argv=[
            "pathological",
            "sweep",
            "--T",
            "10,10",
            "--out",
            "sw",
            "--batch-size",
            "20",
            "--test-batch",
            "20",
            "--max-minibatches",
            "0.1",
            "--hidden",
            "4",
        ],
        token="10",
    ),
    Case(
        "resume with another seed",
        argv=["train", "--resume", "run", "--seed", "5"],
        token="seed",
        setup=[["train", *TINY, "--steps", "1", "--out", "run"]],
    ),
    Case(
        "out is a file",
        argv=["train", *TINY, "--steps", "1", "--out", "file.txt"],
        token="file.txt",
        setup=[["__write__", "file.txt"]],
    ),
    Case(
        "corrupt checkpoint",
        argv=["eval", "run"],
        token="checkpoint",
        setup=[["train", *TINY, "--steps", "1", "--out", "run"], ["__corrupt__", "run"]],
    ),
    Case(
        "checkpoint of another run",
        argv=["eval", "run"],
        token="seed",
        setup=[["train", *TINY, "--steps", "1", "--out", "run"], ["__reseed__", "run"]],
    ),
    Case(
        "crafted pickle checkpoint",
        argv=["eval", "run"],
        token="pickle",
        setup=[["train", *TINY, "--steps", "1", "--out", "run"], ["__python__", CRAFT]],
        check=_crafted_check,
    ),
    Case(
        "a failed start blocks the next run",
        argv=["train", *TINY, "--steps", "1", "--out", "run"],
        expect="ok",
        setup=[["train", *TINY, "--steps", "1", "--devices", "64", "--out", "run"]],
    ),
    Case(
        "two processes, one run directory",
        argv=["train", *TINY, "--steps", "1", "--seed", "1", "--out", "conc"],
        token="conc",
        setup=[["__background__", "train", *TINY, "--steps", "400", "--seed", "0", "--out", "conc"]],
        check=_run_dir_survived("conc"),
    ),
    Case("missing run directory", argv=["eval", "nowhere"], token="nowhere"),
    Case(
        "NaN in x0 (Python)",
        code=_python("""
        import jax, jax.numpy as jnp
        from armctl import DDN, simulate
        from armctl.controllers import ArmController
        task, c = DDN(batch_size=2), ArmController(hidden=(4, 4))
        b = task.sample(jax.random.PRNGKey(1))
        b = b._replace(x0=b.x0.at[0, 0].set(jnp.nan))
        r = simulate(c, c.init_params(jax.random.PRNGKey(0)), task, b)
        print("SILENT" if not jnp.isfinite(task.loss(r.states, r.commands, b.target)) else "OK")
        """),
        token="x0",
    ),
    Case(
        "an int as a PRNG key (Python)",
        code=_python("""
        from armctl import DDN
        DDN().sample(3)
        """),
        token="key",
    ),
    Case(
        "dt = 0 (Python)",
        code=_python("""
        from armctl import ArmParams
        ArmParams.monkey(dt=0.0)
        print("SILENT")
        """),
        token="dt",
    ),
    Case(
        "wrong-shape torque (Python)",
        code=_python("""
        import numpy as np
        from armctl import ArmParams, plant
        plant.step(ArmParams.monkey(), np.zeros(4), np.zeros(3))
        print("SILENT")
        """),
        token="tau",
    ),
    Case(
        "zero forearm mass (Python)",
        code=_python("""
        import numpy as np
        from armctl import ArmParams, plant
        arm = ArmParams.monkey()._replace(m2=0.0, i2=0.0)
        x = plant.step(arm, np.zeros(4), np.ones(2))
        print("SILENT" if not np.all(np.isfinite(x)) else "OK")
        """),
        token="m2",
    ),
    Case(
        "env reset refused, then used (Python)",
        expect="ok",
        code=_python("""
        import gymnasium as gym, numpy as np, armctl
        env = gym.make("armctl/DDN-v0")
        try:
            env.reset(seed=0, options={"onset": -5})
        except ValueError:
            pass
        env.reset(seed=1)
        obs, reward, *_ = env.step(env.action_space.sample())
        print("OK" if np.all(np.isfinite(obs)) else "SILENT")
        """),
    ),
    Case(
        "absurd hand force (Python)",
        expect="ok",
        code=_python("""
        import gymnasium as gym, math, numpy as np, armctl
        env = gym.make("armctl/CenterOut-v1")
        env.reset(seed=0, options={"hand_force": [0.0, 2.7e38], "onset": 0})
        obs, reward, terminated, truncated, info = env.step(np.zeros(2, np.float32))
        print("OK" if np.all(np.isfinite(obs)) and math.isfinite(reward) and info["diverged"] else "SILENT")
        """),
    ),
    Case(
        "throwing the arm away in v0 (Python)",
        expect="ok",
        code=_python("""
        import gymnasium as gym, numpy as np, armctl
        env = gym.make("armctl/DDN-v0")
        env.reset(seed=1, options={"hand_force": [0.0, 1e6], "onset": 0})
        obs, reward, terminated, truncated, info = env.step(np.zeros(2, np.float32))
        print("OK" if info["diverged"] and reward < -1.0 else "SILENT")
        """),
    ),
    Case(
        "NaN action (Python)",
        code=_python("""
        import gymnasium as gym, numpy as np, armctl
        env = gym.make("armctl/DDN-v1")
        env.reset(seed=0)
        env.step(np.array([np.nan, 0.0], np.float32))
        print("SILENT")
        """),
        token="finite",
    ),
]


def _armctl(python: str, argv: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        [python, "-c", "import sys; from armctl.cli import main; sys.exit(main())", *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _setup(python: str, step: list[str], cwd: Path, timeout: float, background: list) -> None:
    kind = step[0]
    if kind == "__write__":
        (cwd / step[1]).write_text("not a directory")
    elif kind == "__corrupt__":
        for name in ("checkpoint.npz", "checkpoint.pkl"):
            path = cwd / step[1] / name
            if path.is_file():
                data = bytearray(path.read_bytes())
                data[len(data) // 2] ^= 0xFF
                path.write_bytes(bytes(data))
    elif kind == "__reseed__":
        path = cwd / step[1] / "config.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), "seed": 9}))
    elif kind == "__python__":
        subprocess.run([python, "-c", step[1]], cwd=cwd, timeout=timeout, capture_output=True)
    elif kind == "__background__":
        background.append(
            subprocess.Popen(
                [python, "-c", "import sys; from armctl.cli import main; sys.exit(main())", *step[1:]],
                cwd=cwd,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        time.sleep(8)  # long enough to have written its config, short enough to still run
    else:
        _armctl(python, step, cwd, timeout)


def classify(case: Case, python: str, timeout: float) -> tuple[str, str]:
    """``(class, the last line of what it printed)``."""
    with tempfile.TemporaryDirectory() as tmp:
        cwd, background = Path(tmp), []
        try:
            for step in case.setup:
                _setup(python, step, cwd, timeout, background)
            if case.argv is not None:
                proc = _armctl(python, case.argv, cwd, timeout)
            else:
                proc = subprocess.run(
                    [python, "-c", case.code], cwd=cwd, capture_output=True, text=True, timeout=timeout
                )
        except subprocess.TimeoutExpired:
            return "hang", ""
        finally:
            for p in background:
                p.kill()
                p.wait()
        out, err = proc.stdout.strip(), proc.stderr.strip()
        last = (err or out).splitlines()[-1] if (err or out) else ""
        override = case.check(cwd, proc) if case.check is not None else None
    if override:
        return override, last
    if proc.returncode == 0:
        if "SILENT" in out or case.expect == "error":
            return "silent wrong", last
        return "correct", last
    if case.code is not None:  # the Python API: a ValueError naming the problem, or a raw exception
        return ("clear error" if _clear_python(err, case) else "raw traceback"), last
    if "Traceback" in err:
        return "raw traceback", last
    if case.expect == "ok":
        return "unhelpful", last
    # The last line is the error (argparse prints its usage above it); it must name the problem.
    return ("clear error" if "error" in last and case.token.lower() in last.lower() else "unhelpful"), last


def _clear_python(err: str, case: Case) -> bool:
    final = err.splitlines()[-1] if err else ""
    return final.startswith(("ValueError", "FileNotFoundError")) and case.token.lower() in final.lower()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--python", default=sys.executable, help="the interpreter of the armctl to probe")
    parser.add_argument("--timeout", type=float, default=180.0)
    parser.add_argument("--out", help="JSON file for the results")
    args = parser.parse_args()
    rows = []
    for case in CASES:
        outcome, last = classify(case, args.python, args.timeout)
        rows.append({"case": case.name, "class": outcome, "said": last[:300]})
        print(f"{outcome:<14} {case.name:<40} {last[:90]}", flush=True)
    counts = Counter(r["class"] for r in rows)
    print(", ".join(f"{c}: {counts.get(c, 0)}" for c in CLASSES))
    write_json(
        args.out, {"python": args.python, "counts": {c: counts.get(c, 0) for c in CLASSES}, "cases": rows}
    )


if __name__ == "__main__":
    main()
