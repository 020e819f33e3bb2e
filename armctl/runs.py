"""Run directories: one schema and one lifecycle for the arm, pathological and language-model runs
(and any other kind of run, a :class:`~armctl.config.RunConfig` subclass).

A run directory holds::

    config.json      the experiment's config (its ``experiment`` key names the kind of run)
    checkpoint.npz   config, parameters, optimizer state, history and the experiment's extras
                     (the LM's best parameters ...); atomic, verified, data only (armctl.checkpoint)
    history.json     one row per optimizer step: the driver's columns, every key the optimizer
                     reports, and the experiment's annotations (test error, validation bpc)
    report.json      the experiment's final numbers (strict JSON, like every file here)
    *.png            figures, listed in report.json

Lifecycle (:func:`prepare`, then :func:`checkpointed_minimize`): every check that can fail on user input runs
before any work (the output path, an existing run that would be overwritten without ``force``,
a resumed run whose settings differ); budgets are totals over the whole run, and every step's
data key derives from the step's index, so a run interrupted (Ctrl-C, kill -9) and resumed
reproduces the uninterrupted one exactly. Ctrl-C checkpoints the last completed step and raises
:class:`Interrupted`, whose message says how to resume; a loss that stops being finite keeps the
last good checkpoint and raises :class:`Diverged`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import socket
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import jax

from armctl import checkpoint, optim
from armctl.config import RunConfig
from armctl.optim import driver
from armctl.optim.driver import History, RunResult, Status
from armctl.progress import Progress

CHECKPOINT = "checkpoint.npz"
#: The checkpoint of armctl 0.1, a pickle (read only through ``armctl upgrade --trust-pickle``).
LEGACY_CHECKPOINT = "checkpoint.pkl"
#: The files of the schema (figures are listed in report.json).
FILES = ("config.json", CHECKPOINT, "history.json", "report.json")
#: The files that mark a directory as holding a run (a 0.1 checkpoint too).
_HELD = (*FILES, LEGACY_CHECKPOINT)


class Diverged(RuntimeError):
    """The loss or the parameters stopped being finite; the last good checkpoint is kept."""


class Interrupted(Exception):
    """Ctrl-C during training; the last completed step is checkpointed."""


def kinds() -> dict[str, type[RunConfig]]:
    """Every kind of run by its experiment name: the built-in ones (arm, pathological, language
    model) and any other :class:`~armctl.config.RunConfig` subclass defined so far."""
    from armctl import experiments  # noqa: F401  (defines the built-in kinds)

    return RunConfig.KINDS


class LoadedRun(NamedTuple):
    """A saved run rebuilt: its config (``out`` set to its directory), what the config builds
    around the parameters (:meth:`RunConfig.rebuild`: the arm's task, controller and problem; a
    network), the parameters, the history and the experiment's extras."""

    config: RunConfig
    model: Any
    params: Any
    history: History
    extra: dict


class Saved(NamedTuple):
    """A run's checkpoint: its config, parameters, optimizer state, history and extras."""

    config: RunConfig
    params: Any
    state: Any
    history: History
    extra: dict


def experiment_of(run_dir: str | os.PathLike) -> str:
    """The kind of run (``arm``, ``pathological``, ``lm``) in ``run_dir``, from its config.json."""
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"no run in {run_dir}: {path.name} is missing")
    try:
        kind = json.loads(path.read_text()).get("experiment")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as err:
        raise ValueError(f"{path} is not a run config ({err})") from None
    if kind not in kinds():
        raise ValueError(
            f"{path} names no experiment armctl knows ({kind!r}; expected one of {sorted(kinds())}); "
            "was it written by an older armctl?"
        )
    return kind


def read_config(run_dir: str | os.PathLike, cls: type[RunConfig]) -> RunConfig:
    """The config saved in ``run_dir`` (a ``cls``), with ``out`` set to ``run_dir``."""
    path = Path(run_dir) / "config.json"
    experiment_of(run_dir)
    config = cls.from_json(json.loads(path.read_text()), source=str(path))
    return config.resumed({"out": str(run_dir)})


def _check_not_legacy(run_dir: Path) -> None:
    """Refuse a run directory whose only checkpoint is a 0.1 pickle, saying how to convert it."""
    if not (run_dir / CHECKPOINT).is_file() and (run_dir / LEGACY_CHECKPOINT).is_file():
        raise ValueError(
            f"{run_dir} holds a checkpoint of armctl 0.1 ({LEGACY_CHECKPOINT}), a pickle: reading a pickle "
            f"can run code, so armctl reads one only when told it is trusted. If you trust where it came "
            f"from, convert it once with: armctl upgrade {run_dir} --trust-pickle"
        )


def load(run_dir: str | os.PathLike, cls: type[RunConfig]) -> Saved:
    """The checkpoint of the ``cls`` run in ``run_dir``; clear errors naming the file otherwise."""
    path = Path(run_dir) / CHECKPOINT
    _check_not_legacy(Path(run_dir))
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint in {run_dir} ({CHECKPOINT} is missing)")
    data = checkpoint.load(path)
    try:
        config = cls.from_json(data["config"], source=str(path))
        saved = Saved(config, data["params"], data["state"], History(data["history"]), data["extra"])
    except (KeyError, TypeError) as err:
        raise ValueError(f"{path} is not a run checkpoint of this armctl version (no {err})") from None
    # A checkpoint copied into another run's directory would be reported (and resumed) as that run.
    listed = read_config(run_dir, cls)
    differ = [
        f"{name}={mine!r} (config.json: {theirs!r})" for name, mine, theirs in config.settings_differ(listed)
    ]
    if differ:
        raise ValueError(
            f"{path} does not belong to the run in {Path(run_dir) / 'config.json'}: {', '.join(differ)}"
        )
    return saved


def save(run_dir: Path, config: RunConfig, params, state, history: History, extra: dict) -> None:
    """Write the checkpoint and history.json (each atomically)."""
    checkpoint.save(
        run_dir / CHECKPOINT,
        {
            "config": config.to_json(),
            "params": params,
            "state": state,
            "history": dict(history),
            "extra": extra,
        },
    )
    checkpoint.atomic_write_json(run_dir / "history.json", dict(history))


#: In a long run the checkpoint is written at most every this share of the steps so far.
CHECKPOINT_SHARE = 0.01


def checkpoint_due(steps: int, last_saved: int, every: int) -> bool:
    """Whether to write the checkpoint after step ``steps`` (the last one was after ``last_saved``):
    once ``every`` steps have passed, and :data:`CHECKPOINT_SHARE` of the steps so far.

    Why the share: writing a checkpoint takes time in proportion to the history's length, so at a
    fixed interval a long run's writes cost time quadratic in its steps (an L-BFGS run at 45k steps,
    every 5: 1.5 s of writing per 0.5 s of training). A share keeps the writes a few percent of the
    run, and a crash loses at most that share of it; short runs are checkpointed every ``every``
    steps as before.
    """
    return steps - last_saved >= max(every, int(CHECKPOINT_SHARE * steps))


def write_report(run_dir: Path, report: dict) -> None:
    checkpoint.atomic_write_json(run_dir / "report.json", report)


def check_writable(run_dir: Path) -> None:
    """Raise ``ValueError`` unless ``run_dir`` is, or can be created as, a writable directory."""
    if run_dir.exists() and not run_dir.is_dir():
        raise ValueError(f"--out {run_dir} is a file, not a directory")
    ancestor = run_dir
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ValueError(f"--out {run_dir}: cannot create it, {ancestor} is a file")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise ValueError(f"--out {run_dir}: {ancestor} is not writable")


def _clear(run_dir: Path) -> None:
    """Remove a run's files (the schema and the figures its report lists)."""
    report = run_dir / "report.json"
    figures = []
    if report.is_file():
        try:
            figures = list(json.loads(report.read_text()).get("figures", []))
        except (json.JSONDecodeError, AttributeError):
            figures = []
    for name in [*_HELD, *figures]:
        (run_dir / Path(name).name).unlink(missing_ok=True)


#: The lock file of a run directory that a process is writing (:class:`RunLock`).
LOCK = ".lock"


class RunInUse(ValueError):
    """Another live process holds the run directory's lock."""


class RunLock:
    """A run directory's lock: ``RUN_DIR/.lock`` under an exclusive ``flock``, naming its holder.

    The kernel drops a ``flock`` when its process ends, however it ends (kill -9 included), so a
    lock file left by a killed process is stale by construction: the next process takes it over.
    """

    def __init__(self, fd: int, path: Path):
        self.fd, self.path = fd, path

    @classmethod
    def acquire(cls, run_dir: Path) -> RunLock:
        """Lock ``run_dir`` (created if missing); :class:`RunInUse` naming the holder if a live
        process has it."""
        run_dir.mkdir(parents=True, exist_ok=True)
        path = run_dir / LOCK
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 4096).decode(errors="replace")
                os.close(fd)
                raise RunInUse(
                    f"{run_dir} is in use: {_holder(holder)}; wait for it to end or give another --out"
                ) from None
            # The holder may have removed the file between our open and our flock: lock the file
            # that is at the path now, not an unlinked one.
            try:
                same = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        info = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%d %H:%M:%S")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        return cls(fd, path)

    def release(self) -> None:
        """Remove the lock file and drop the lock (in that order: see :meth:`acquire`)."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        os.close(self.fd)


def _holder(text: str) -> str:
    try:
        info = json.loads(text)
        return f"process {info['pid']} on {info['host']} has been writing it since {info['since']}"
    except (json.JSONDecodeError, KeyError, TypeError):
        return "another process holds its lock"


@contextlib.contextmanager
def opened(config: RunConfig, *, resume: bool = False, force: bool = False):
    """``with opened(config, ...) as saved:``: :func:`prepare` under the run directory's lock
    (:class:`RunLock`, held by the first process of a multi-process run) until the block ends.

    A second process writing the same directory is refused (:class:`RunInUse`, exit 2) before any
    work. A new run that fails before its first checkpoint leaves nothing behind: the files it
    wrote go, and so does the directory if it made it.
    """
    run_dir = config.run_dir()
    check_writable(run_dir)
    created = not run_dir.exists()
    lock = RunLock.acquire(run_dir) if jax.process_index() == 0 else None
    started = False
    try:
        saved = prepare(config, resume=resume, force=force)
        started = True
        yield saved
    except BaseException:
        if started and saved is None and not (run_dir / CHECKPOINT).exists():
            _clear(run_dir)
        raise
    finally:
        if lock is not None:
            lock.release()
        if created and run_dir.is_dir() and not any(run_dir.iterdir()):
            run_dir.rmdir()


def prepare(config: RunConfig, *, resume: bool = False, force: bool = False) -> Saved | None:
    """Check the run directory before any work; return the checkpoint to resume (or ``None``).

    Without ``resume``, a directory that already holds a run is refused unless ``force``
    (which removes that run's files); with ``resume``, the checkpoint must exist and ``config``
    must continue its run (:meth:`RunConfig.check_resume`). Training commands call it through
    :func:`opened`, which holds the directory's lock.
    """
    run_dir = config.run_dir()
    check_writable(run_dir)
    if resume:
        saved = load(run_dir, type(config))
        config.check_resume(saved.config, run_dir)
        return saved
    # With several processes sharing one directory, the first one checks it for all.
    held = [name for name in _HELD if (run_dir / name).exists()] if jax.process_index() == 0 else []
    if held and not force:
        raise ValueError(
            f"{run_dir} already holds a run ({', '.join(held)}); continue it with --resume {run_dir} "
            "or replace it with --force"
        )
    if held:
        _clear(run_dir)
    return None


def plan(config: RunConfig, *, force: bool = False) -> str:
    """What to do with ``config``'s run directory in a batch of runs (a comparison, a sweep),
    decided before any work: ``'done'`` (it holds this run, finished: reuse its report),
    ``'resume'`` (it holds this run unfinished, or finished with other budgets: continue it) or
    ``'new'``. A directory holding a run with other settings is a ``ValueError`` unless ``force``
    (then ``'new'``, and :func:`prepare` replaces it)."""
    run_dir = config.run_dir()
    check_writable(run_dir)
    _check_not_legacy(run_dir)
    if not (run_dir / CHECKPOINT).is_file():
        held = [name for name in _HELD if (run_dir / name).exists()]
        if held and not force:
            raise ValueError(
                f"{run_dir} holds files of a run without its checkpoint ({', '.join(held)}); "
                "replace them with --force"
            )
        return "new"
    saved = read_config(run_dir, type(config))
    # The devices a run was split over are its layout, not its settings (a resume may change
    # them): a finished run made on other devices is reused, not resumed to rewrite its config.
    if dataclasses.replace(saved, devices=config.devices) == config and (run_dir / "report.json").is_file():
        return "done"
    try:
        config.check_resume(saved, run_dir)
    except ValueError as err:
        if force:
            return "new"
        raise ValueError(f"{err}; or replace that run with --force") from None
    return "resume"


def read_report(run_dir: str | os.PathLike) -> dict:
    return json.loads((Path(run_dir) / "report.json").read_text())


def read_history(run_dir: str | os.PathLike) -> dict:
    """A run's ``history.json``: one list per column, one entry per optimizer step."""
    return json.loads((Path(run_dir) / "history.json").read_text())


def checkpointed_minimize(
    config: RunConfig,
    problem: optim.Problem,
    opt: optim.Optimizer,
    params,
    sample_batch: Callable,
    key: jax.Array,
    *,
    saved: Saved | None,
    describe: Callable[[dict], str],
    log: Callable[[str], None] = print,
    stop: Sequence[driver.Condition] = (),
    fraction: Callable[[Status], float] | None = None,
    eval_batch=None,
    extra: Callable[[], dict] = dict,
    batch_refresh: int = 1,
) -> RunResult:
    """Train under the config's budgets and the extra ``stop`` conditions, checkpointing every
    ``config.checkpoint_every`` steps (in long runs less often: :func:`checkpoint_due`) and at
    the end, reporting progress (``describe`` a history row; ``fraction``: the share of the
    budget spent, default the config's budgets), and writing config.json, checkpoint.npz and
    history.json. ``saved``: the checkpoint to resume (from :func:`prepare`); ``extra()``: the
    experiment's additions to every checkpoint.

    Raises :class:`Interrupted` on Ctrl-C and :class:`Diverged` when the loss stops being
    finite, after checkpointing the last completed (good) step.
    """
    run_dir = config.run_dir()
    run_dir.mkdir(parents=True, exist_ok=True)
    checkpoint.atomic_write_json(run_dir / "config.json", config.to_json())
    # A report describes a finished run: from here until the new one is written, there is none.
    (run_dir / "report.json").unlink(missing_ok=True)
    state, history = (None, History()) if saved is None else (saved.state, saved.history)
    if saved is not None:
        log(f"resuming {run_dir} after step {len(history)}")
    progress = Progress(run_dir.name, describe, fraction or config.budget_fraction, log=log)

    last_saved = len(history)

    def callback(step, params, state, record):
        nonlocal last_saved
        progress.update(Status(params, state, history))
        if checkpoint_due(len(history), last_saved, config.checkpoint_every):
            save(run_dir, config, params, state, history, extra())
            last_saved = len(history)

    try:
        result = driver.minimize(
            problem,
            opt,
            params,
            sample_batch,
            key,
            # The experiment's conditions first: they may score the last step before a budget ends the run.
            stop=[*stop, *config.stop_conditions()],
            eval_batch=eval_batch,
            callback=callback,
            state=state,
            history=history,
            mesh=optim.parallel.mesh_for(config.devices),
            batch_refresh=batch_refresh,
        )
    finally:
        progress.close()
    save(run_dir, config, result.params, result.state, result.history, extra())
    steps = len(result.history)
    if result.reason == driver.INTERRUPTED:
        raise Interrupted(
            f"interrupted: {steps} steps are checkpointed in {run_dir / CHECKPOINT}; "
            f"resume with: {config.COMMAND} --resume {run_dir}"
        )
    if result.reason == driver.DIVERGED:
        raise Diverged(
            f"training diverged at step {steps + 1}: the loss or the parameters are no longer finite. "
            f"The last good parameters ({steps} steps) are checkpointed in {run_dir / CHECKPOINT}; "
            "try a smaller step (e.g. --optimizer-option learning_rate=...) or more damping"
        )
    return result


def load_run(run_dir: str | os.PathLike, cls: type[RunConfig] | None = None) -> LoadedRun:
    """The run in ``run_dir`` rebuilt (:class:`LoadedRun`), of any kind (``cls`` checks it is one
    kind); errors name the file and what is wrong."""
    cls = cls or kinds()[experiment_of(run_dir)]
    saved = load(run_dir, cls)
    config = saved.config.resumed({"out": str(run_dir)})
    return LoadedRun(config, config.rebuild(saved.extra), saved.params, saved.history, saved.extra)


def evaluate(run_dir: str | os.PathLike, *, log: Callable[[str], None] = print) -> dict:
    """Reload any run and recompute its report (``armctl eval RUN_DIR``): the run's kind
    (:meth:`RunConfig.evaluate_run`) decides how."""
    return kinds()[experiment_of(run_dir)].evaluate_run(run_dir, log=log)
