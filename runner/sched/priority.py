"""The runner's own CPU work at the lowest priority, so only sandboxes on slots run at full weight.

A scoring client (``pitfalls submit``/``check`` or a session server's submit thread) does work of
its own around the candidate's: imports, building the data set, copying, counting, scoring. Done
at the default priority it runs on any CPU, including the reserved one of another job's training,
and slows that training (measured: six fresh submit processes starting while digits_budget's
reference trained made it take 1.8x its lone time). At nice 19 a runner thread weighs 15 against
the sandboxes' cpu cgroup (1024 per CPU): it uses idle CPU time and takes ~1% from a training.

Only as root: there every sandbox is put back at nice 0 between fork and exec
(:func:`sandbox_priority`) and its cgroup weight decides. An unprivileged runner could not undo
the nice value for its sandboxes, whose training would then yield to every process on the host.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

CLIENT_NICE = 19
"""The runner's own work (Linux nice value; 19 is the lowest priority)."""


def _may_restore() -> bool:
    return os.geteuid() == 0


def lower_client_priority() -> bool:
    """Put the calling thread (and threads it starts later) at :data:`CLIENT_NICE`, for good.

    For a process whose whole life is one scoring client (the CLI's job commands): call it before
    the heavy imports. Returns whether it lowered (root only, see the module's docstring)."""
    if not _may_restore():
        return False
    os.setpriority(os.PRIO_PROCESS, 0, CLIENT_NICE)  # Linux: who=0 is the calling thread
    return True


@contextlib.contextmanager
def client_priority() -> Iterator[None]:
    """The calling thread at :data:`CLIENT_NICE` inside the block, back to its own value after
    (a session server's worker thread serves other requests afterwards)."""
    if not _may_restore():
        yield
        return
    before = os.getpriority(os.PRIO_PROCESS, 0)
    os.setpriority(os.PRIO_PROCESS, 0, max(before, CLIENT_NICE))
    try:
        yield
    finally:
        os.setpriority(os.PRIO_PROCESS, 0, before)


def sandbox_priority() -> None:
    """In a sandbox's child between fork and exec: nice 0 whatever the runner's own (root only;
    the candidate's code cannot lower it again once its capabilities are dropped)."""
    if _may_restore():
        os.setpriority(os.PRIO_PROCESS, 0, 0)
