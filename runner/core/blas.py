"""One BLAS thread in the runner's own processes: multi-threaded OpenBLAS deadlocks when a process forks.

The runner generates data and computes scores in-process, often in threads (`pitfalls check` prefetches
trainings, a session server scores while probes run), while other threads start sandboxes with
``subprocess.Popen(preexec_fn=...)``, i.e. ``fork``. OpenBLAS's fork handler stops its thread pool; a BLAS
call in flight in another thread then waits for worker threads that no longer exist, spinning at 100% of a
CPU forever (measured: three threads doing a ``(7000, 15)`` matrix product beside a thread running
``subprocess.run(["true"], preexec_fn=...)`` hung at once, every time; with one BLAS thread, 4,500
products and 900 forks in 15 s. It hung `pitfalls check income_screen` in CI, in the copula
sampler's matrix product, datasets/synthetic.py).
With one thread OpenBLAS computes in the calling thread and keeps no pool. The runner's own BLAS work is
small (the candidates' trainings run in sandboxes, with their own thread settings), and one CPU per job is
what its scheduler grants anyway.

Called once a process loads a scaffold's hooks (runner/library/scaffold.py ``load_hooks``): every
process that makes data, trains or scores has loaded one first. Children are not affected: this sets the loaded libraries' thread counts, not ``OPENBLAS_NUM_THREADS``.
"""

from __future__ import annotations

import functools


@functools.cache
def single_threaded() -> None:
    """Limit every BLAS library numpy and scipy load to one thread, in this process, once."""
    import numpy  # noqa: F401 - loads numpy's OpenBLAS
    import scipy.linalg  # noqa: F401 - loads scipy's own OpenBLAS
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
