"""The runner's own CPU work at the lowest priority, so only sandboxes on slots run at full weight.

A scoring client (``pitfalls submit``/``check`` or a session server's submit thread) does work of
its own around the candidate's: imports, building the data set, copying, counting, scoring. Done
at the default priority it runs on any CPU, including the reserved one of another job's training,
and slows that training (measured: six fresh submit processes starting while digits_budget's
reference trained made it take 1.8x its lone time). At nice 19 a runner thread weighs 15 against
the sandboxes' cpu cgroup (1024 per CPU): it uses idle CPU time and takes ~1% from a training.

The thread that holds a slot is back at nice 0 while it holds it (:func:`holder_priority`): it
enforces its job's time limits, and its work then runs on its job's own CPUs.

Only as root: there every sandbox is put back at nice 0 between fork and exec
(:func:`sandbox_priority`) and its cgroup weight decides. An unprivileged runner could not undo
the nice value for its sandboxes, whose training would then yield to every process on the host.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator

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


def holder_priority() -> Callable[[], None]:
    """The calling thread at nice 0 while it holds a slot; returns what puts its own value back.

    The holder waits on its job's sandboxes and kills them at their time limits: at nice 19 its
    wake-up could wait behind other work on its CPU, and a limit would be enforced (and reported)
    late. While holding, its own work runs on its job's CPUs, which nothing else of the scheduler's
    uses, so nice 0 takes nothing from another job. Root only (see the module's docstring)."""
    if not _may_restore():
        return lambda: None
    tid, before = threading.get_native_id(), os.getpriority(os.PRIO_PROCESS, 0)
    os.setpriority(os.PRIO_PROCESS, 0, 0)

    def restore() -> None:
        if threading.get_native_id() == tid:  # only the thread that was changed
            os.setpriority(os.PRIO_PROCESS, 0, before)
    return restore
