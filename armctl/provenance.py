"""Where a result came from: the command that wrote it and the armctl commit it ran.

Results written as data (a campaign's ``results.json``, the benchmarks' JSON) carry both, so a
number in docs/RESULTS.md can be traced to the code that produced it.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

_SOURCE = Path(__file__).resolve().parent.parent


def commit() -> str | None:
    """The git commit of armctl's source tree (``+dirty`` with uncommitted changes to tracked
    files outside ``docs/``, where results live and change as runs go on), or ``None`` when it is
    not a git checkout (an installed wheel)."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(_SOURCE), *args], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()

    try:
        head = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)docs"))
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "")


def command() -> str:
    """The command line of this process, as a shell would take it."""
    name = Path(sys.argv[0]).name if sys.argv else "python"
    return shlex.join([name, *sys.argv[1:]])


def stamp() -> dict:
    """``{"command": ..., "commit": ...}`` for a result file."""
    return {"command": command(), "commit": commit()}
