"""Campaigns: many pathological runs, each to success or to the failure bound, over many sittings.

A campaign file (TOML) lists the runs::

    [defaults]                       # any PathologicalConfig field, for every entry below
    preset = "default"

    [[runs]]                         # one entry: the product of its lists
    problems = ["addition", "multiplication"]
    T = [30, 50, 100]
    seeds = [0, 1, 2]

    [[runs]]
    problems = ["memorization_5bit"]
    T = 200
    seeds = [0]
    precision = "float64"            # any other field, for this entry's runs
    tag = "f64"                      # appended to the run names, to tell settings apart

``problems`` / ``problem``, ``T``, ``seeds`` / ``seed`` and ``optimizer`` take a value or a list;
every other key is a :class:`PathologicalConfig` field. Each run has its run directory
``OUT/NAME`` (``NAME``: :func:`run_name`, plus ``-TAG``), so the campaign's state is its run
directories: :func:`execute` plans every run (:func:`armctl.runs.plan`: finished, unfinished or
new), then trains the unfinished ones in the file's order, one process per core, each pinned to
its core, until every run has succeeded or reached the bound, or until ``hours`` have passed.
Then, or on Ctrl-C or SIGTERM (``kill PID``), every process checkpoints its last step and stops;
the next call resumes each run where it stopped, with the numbers an uninterrupted run would have
had. After every run that ends, ``results.json`` (every run's state: :func:`status`) and
``fig4_1.png`` (the finished runs, thesis fig. 4.1) are rewritten.
"""

from __future__ import annotations

import dataclasses
import itertools
import multiprocessing
import os
import signal
import sys
import time
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path

from armctl import checkpoint, provenance, runs
from armctl.sequence import pathological
from armctl.sequence.pathological_experiment import PathologicalConfig, plot_sweep, run_name

#: Keys of an entry that take a value or a list, and the config field each sets.
LISTS = {"problems": "problem", "problem": "problem", "T": "T", "seeds": "seed", "seed": "seed"}
LISTS["optimizer"] = "optimizer"
#: Fields a campaign decides itself.
RESERVED = ("out",)


@dataclasses.dataclass(frozen=True)
class Planned:
    """One run of a campaign: its name (the run directory's under the campaign's), its config, the
    tag of its entry (``""``: none)."""

    name: str
    config: PathologicalConfig
    tag: str = ""


def _as_list(value) -> list:
    return list(value) if isinstance(value, list | tuple) else [value]


def default_out(path: str | os.PathLike) -> Path:
    """Where a campaign's runs go by default: beside its file, named as it without the suffix."""
    return Path(path).with_suffix("")


def read(path: str | os.PathLike, out: str | os.PathLike | None = None) -> list[Planned]:
    """The runs of the campaign file ``path``, in its order, their directories under ``out``
    (default: :func:`default_out`). Raises ``ValueError`` naming the entry and the
    key of any mistake (unknown keys, bad values, two runs with one name) before any work."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no campaign file at {path}")
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not a TOML campaign file: {err}") from None
    unknown = sorted(set(data) - {"defaults", "runs"})
    if unknown:
        raise ValueError(f"{path}: unknown top-level keys {unknown}; expected [defaults] and [[runs]]")
    defaults, entries = data.get("defaults", {}), data.get("runs", [])
    if not isinstance(defaults, dict) or not isinstance(entries, list) or not entries:
        raise ValueError(f"{path}: expected an optional [defaults] table and at least one [[runs]] entry")
    out = Path(out) if out is not None else default_out(path)
    fields = {f.name for f in dataclasses.fields(PathologicalConfig)}
    planned: dict[str, Planned] = {}
    for number, entry in enumerate(entries, 1):
        where = f"{path}, [[runs]] entry {number}"
        # One process per core, so one device per run unless the file says otherwise (the
        # armctl command that plans the runs may see a device per core).
        entry = {"devices": 1, **defaults, **entry}
        tag = entry.pop("tag", None)
        if tag is not None and not (isinstance(tag, str) and tag.replace("-", "").replace("_", "").isalnum()):
            raise ValueError(f"{where}: tag must be letters, digits, '-' or '_', got {tag!r}")
        lists = {LISTS[k]: _as_list(entry.pop(k)) for k in list(entry) if k in LISTS}
        bad = sorted(k for k in entry if k not in fields or k in RESERVED or k in LISTS.values())
        if bad:
            raise ValueError(
                f"{where}: unknown or reserved keys {bad}; expected {sorted(LISTS)}, 'tag' and "
                f"PathologicalConfig fields except {list(RESERVED)}"
            )
        if "problem" not in lists:
            raise ValueError(
                f"{where}: name the problems (problems = [...], from {list(pathological.PROBLEMS)})"
            )
        names = list(lists)
        for values in itertools.product(*(lists[n] for n in names)):
            try:
                config = PathologicalConfig(**entry, **dict(zip(names, values, strict=True)))
            except (TypeError, ValueError) as err:
                raise ValueError(f"{where}: {err}") from None
            name = run_name(config) + (f"-{tag}" if tag else "")
            if name in planned:
                raise ValueError(f"{where}: run {name} is listed twice (add a tag to tell settings apart)")
            planned[name] = Planned(name, dataclasses.replace(config, out=str(out / name)), tag or "")
    return list(planned.values())


def status(run: Planned) -> dict:
    """A run's state from its directory: ``state`` is ``'solved'``, ``'failed'`` (the bound
    reached), ``'stopped'`` (ended by another budget), ``'unfinished'`` (checkpointed, to resume)
    or ``'new'``; with ``minibatches``, ``iterations``, ``wall_s``, the last and the best
    ``test_error`` so far."""
    run_dir = run.config.run_dir()
    row = {"name": run.name, "tag": run.tag, "config": run.config.to_json(), "state": "new"}
    if not (run_dir / "history.json").is_file():
        return row
    history = runs.read_history(run_dir)
    scored = [e for e in history.get("test_error", []) if e is not None]
    row.update(
        minibatches=(history.get("minibatches") or [0.0])[-1],
        iterations=len(history.get("loss", [])),
        wall_s=(history.get("wall_time") or [0.0])[-1],
        test_error=scored[-1] if scored else None,
        best_test_error=min(scored) if scored else None,
        state="unfinished",
    )
    if (run_dir / "report.json").is_file():
        report = runs.read_report(run_dir)
        bound = report["minibatches"] >= run.config.max_minibatches
        row.update(
            state="solved" if report["success"] else "failed" if bound else "stopped",
            minibatches=report["minibatches"],
            test_error=report["test_error"],
        )
    return row


def merge(planned: Sequence[Planned], out: str | os.PathLike) -> list[dict]:
    """Write ``results.json`` (``runs``: every run's :func:`status`, in the campaign's order, with
    the command and commit that wrote it: :func:`armctl.provenance.stamp`) and ``fig4_1.png``
    (the solved and failed runs) under ``out``; return the rows."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = [status(run) for run in planned]
    checkpoint.atomic_write_json(out / "results.json", {**provenance.stamp(), "runs": rows})
    ended = [
        {"config": r["config"], "success": r["state"] == "solved", "minibatches": r["minibatches"]}
        for r in rows
        if r["state"] in ("solved", "failed")
    ]
    if ended:
        plot_sweep(ended, out / "fig4_1.png")
    return rows


def _train_pinned(config_json: dict, resume: bool, core: int | None, log_path: str) -> None:
    """A campaign's worker process: one run, on one core, its progress appended to ``log_path``.

    Exit codes: 0 the run ended (solved, failed or stopped by a budget), 130 interrupted (its
    last completed step checkpointed), 1 diverged (the last good step checkpointed), 2 refused
    before any work (another process holds its run directory, or its settings are refused).
    """
    # The campaign relays one SIGTERM to stop a run; a Ctrl-C in the terminal reaches the whole
    # process group, and a second interrupt could land in the middle of the checkpoint's write.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _interrupt_once)
    with open(log_path, "a", buffering=1) as log:
        try:
            from armctl import xla_cpu  # before JAX starts its backend in this fresh process

            xla_cpu.prefer_single_threaded_ops()
            if core is not None:
                os.sched_setaffinity(0, {core})
            print(f"process {os.getpid()} on cores {sorted(os.sched_getaffinity(0))}", file=log)
            from armctl.sequence.pathological_experiment import train

            train(
                PathologicalConfig.from_json(config_json),
                resume=resume,
                log=lambda line: print(line, file=log),
            )
        except runs.Interrupted as err:
            print(err, file=log)
            sys.exit(130)
        except KeyboardInterrupt:  # before training started: nothing to checkpoint
            print("interrupted before the first step", file=log)
            sys.exit(130)
        except runs.Diverged as err:
            print(err, file=log)
            sys.exit(1)
        except ValueError as err:  # refused before any work: the run directory is in use ...
            print(f"refused: {err}", file=log)
            sys.exit(2)


def _interrupt_once(signum, frame) -> None:
    """SIGTERM in a worker: stop training as Ctrl-C would (checkpoint, then exit), once."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def default_cores() -> list[int]:
    """The cores this process may run on."""
    return sorted(os.sched_getaffinity(0))


def execute(
    planned: Sequence[Planned],
    out: str | os.PathLike,
    *,
    cores: Sequence[int] | None = None,
    hours: float | None = None,
    log: Callable[[str], None] = print,
) -> list[dict]:
    """Train every unfinished run of ``planned``, one process per core of ``cores`` (default:
    :func:`default_cores`), for at most ``hours``; merge the results (:func:`merge`) after each run
    that ends and at the end. Returns the merged rows.

    Every run directory is planned before any work (a directory holding a run with other settings
    is a ``ValueError``). At the deadline, or on Ctrl-C, each process is interrupted: it
    checkpoints its last completed step and stops, and a later call resumes it exactly.
    """
    cores = list(default_cores() if cores is None else cores)
    if not cores or len(set(cores)) != len(cores):
        raise ValueError(f"cores must be distinct core numbers, got {cores}")
    allowed = set(default_cores())
    if not set(cores) <= allowed:
        raise ValueError(
            f"cores {sorted(set(cores) - allowed)} are not available; this process may use {sorted(allowed)}"
        )
    if hours is not None and not hours > 0:
        raise ValueError(f"hours must be a positive number, got {hours!r}")
    plans = {run.name: runs.plan(run.config) for run in planned}
    todo = [run for run in planned if plans[run.name] != "done"]
    log(
        f"campaign: {len(planned)} runs, {len(planned) - len(todo)} ended, {len(todo)} to train "
        f"on cores {cores}" + (f" for at most {hours} h" if hours else "")
    )
    deadline = None if hours is None else time.monotonic() + 3600 * hours
    context = multiprocessing.get_context("spawn")
    free, active = list(cores), {}
    queue = list(todo)
    interrupted = False

    def start(run: Planned, core: int) -> None:
        run_dir = run.config.run_dir()
        run_dir.mkdir(parents=True, exist_ok=True)
        resume = (run_dir / runs.CHECKPOINT).is_file()
        process = context.Process(
            target=_train_pinned,
            args=(run.config.to_json(), resume, core, str(run_dir / "log.txt")),
            name=run.name,
        )
        process.start()
        active[process] = (run, core)
        log(f"{'resumed' if resume else 'started'} {run.name} on core {core} (log: {run_dir / 'log.txt'})")

    def reap(process) -> None:
        run, core = active.pop(process)
        free.append(core)
        row = status(run)
        code = process.exitcode
        outcome = {
            0: row["state"],
            130: "interrupted, checkpointed",
            1: "diverged",
            2: "refused (see its log)",
        }.get(code, f"ended with exit code {code} (see its log)")
        best = row.get("best_test_error")
        log(
            f"{run.name}: {outcome} at {row.get('minibatches', 0):.0f} minibatches"
            + (f", best test error {100 * best:.2f} %" if best is not None else "")
        )
        merge(planned, out)

    def interrupt_all() -> None:
        for process in active:
            if process.is_alive():
                process.terminate()  # SIGTERM: the worker checkpoints and exits (_interrupt_once)

    # ``kill PID`` stops a campaign as Ctrl-C does (and works where Ctrl-C cannot: a process started
    # in the background by a non-interactive shell ignores SIGINT).
    previous = signal.signal(signal.SIGTERM, _interrupt_once)
    try:
        while queue or active:
            while queue and free and not interrupted:
                start(queue.pop(0), free.pop(0))
            if not active:
                break
            for process in list(active):
                process.join(timeout=1.0 / len(active))
                if not process.is_alive():
                    reap(process)
            if deadline is not None and time.monotonic() > deadline and not interrupted:
                log("campaign: time is up; interrupting the runs (each checkpoints its last step)")
                interrupted = True
                interrupt_all()
    except KeyboardInterrupt:
        interrupted = True
        interrupt_all()
        for process in list(active):
            process.join()
            reap(process)
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
    return merge(planned, out)


# --- tables (docs/RESULTS.md is generated from these: docs/generate.py) ------------------------------


def _count(x: float) -> str:
    return f"{x:,.0f}"


def arms_table(rows: Sequence[dict]) -> str:
    """Markdown: one line per (problem, T, tag) of a campaign's :func:`status` rows: its settings,
    and per seed the minibatches to success, or how far an unsolved run got."""
    groups: dict = {}
    for row in rows:
        c = row["config"]
        groups.setdefault((c["problem"], c["T"], row.get("tag", "")), []).append(row)
    lines = [
        "| problem | T | arm | solved | minibatches to success, per seed | not solved (best test error) |",
        "|---|---|---|---|---|---|",
    ]
    for (problem, T, tag), group in groups.items():
        solved = [r for r in group if r["state"] == "solved"]
        won = ", ".join(f"s{r['config']['seed']}: {_count(r['minibatches'])}" for r in solved) or "-"
        lost = [
            f"s{r['config']['seed']}: not run"
            if r["state"] == "new"
            else f"s{r['config']['seed']}: {r['state']} at {_count(r['minibatches'])}"
            + (f" ({100 * r['best_test_error']:.1f} %)" if r.get("best_test_error") is not None else "")
            for r in group
            if r["state"] != "solved"
        ]
        lines.append(
            f"| {problem} | {T} | {tag or 'default'} | {len(solved)} / {len(group)} | {won} | "
            f"{'; '.join(lost) or '-'} |"
        )
    return "\n".join(lines)


def fig41_table(rows: Sequence[dict]) -> str:
    """Markdown, thesis fig. 4.1 as a table: per problem and T, minibatches to success (mean
    [min, max] over the solved runs), the failure rate over the ended runs (solved or failed), the
    runs started and unfinished, and those not started."""
    groups: dict = {}
    for row in rows:
        c = row["config"]
        groups.setdefault(c["problem"], {}).setdefault(c["T"], []).append(row)
    lengths = sorted({row["config"]["T"] for row in rows})
    lines = [
        "| problem | " + " | ".join(f"T = {T}" for T in lengths) + " |",
        "|---|" + "---|" * len(lengths),
    ]
    for problem, by_T in groups.items():
        cells = []
        for T in lengths:
            group = by_T.get(T, [])
            won = [r["minibatches"] for r in group if r["state"] == "solved"]
            ended = [r for r in group if r["state"] in ("solved", "failed")]
            started = sum(r["state"] == "unfinished" for r in group)
            waiting = len(group) - len(ended) - started
            if not group:
                cells.append("")
                continue
            parts = []
            if won:
                parts.append(f"{_count(sum(won) / len(won))} [{_count(min(won))}, {_count(max(won))}]")
            elif ended or started:
                parts.append("none solved")
            if ended:
                parts.append(f"failed {len(ended) - len(won)} / {len(ended)}")
            if started:
                parts.append(f"{started} unfinished")
            if waiting:
                parts.append(f"{waiting} not run")
            cells.append("; ".join(parts))
        lines.append(f"| {problem} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
