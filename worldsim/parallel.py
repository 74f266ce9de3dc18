"""Fan work out over local processes, or over a Ray cluster when given its address.

One function, :func:`run_jobs`, used by dataset generation and env rollouts. Work is a picklable
top-level function and a list of argument tuples; results come back as they finish, so callers
can show progress. No scheduler of our own: local work uses a ``spawn`` process pool (PyBullet and
torch are not fork-safe once used), cluster work uses Ray tasks.

    worldsim dataset --out data --frames 100000 --ray-address auto     # on a node of a Ray cluster
    worldsim dataset --out data --frames 2000 --ray-address local      # a throwaway local Ray instance
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing import get_context
from typing import Any

from worldsim.errors import WorldsimError


def _ray(address: str):
    try:
        import ray
    except ImportError:
        raise WorldsimError("--ray-address needs Ray: pip install 'worldsim[ray]' (or pip install ray)") from None
    if not ray.is_initialized():
        if address == "local":
            ray.init(include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
    return ray


def run_jobs(fn: Callable[..., Any], jobs: list[tuple], workers: int = 1, ray_address: str | None = None) -> Iterator[Any]:
    """Yield ``fn(*job)`` for every job, in completion order.

    Args:
        fn: a module-level function (it is shipped to other processes by reference).
        jobs: argument tuples.
        workers: local processes when there is no Ray address (1 runs in this process).
        ray_address: ``"auto"`` (the cluster this node belongs to), ``"local"`` (start one here),
            ``"ray://host:10001"`` or ``"host:6379"``; None for local processes.
    """
    if not jobs:
        return
    if ray_address:
        ray = _ray(ray_address)
        remote = ray.remote(fn)
        pending = [remote.remote(*job) for job in jobs]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            yield ray.get(done[0])
    elif workers <= 1 or len(jobs) == 1:
        for job in jobs:
            yield fn(*job)
    else:
        with _sigterm_exits(), get_context("spawn").Pool(min(workers, len(jobs))) as pool:
            yield from pool.imap_unordered(_star, [(fn, job) for job in jobs])


@contextmanager
def _sigterm_exits() -> Iterator[None]:
    """While inside, SIGTERM raises SystemExit in this process instead of ending it outright.

    Killed outright, a pool's parent leaves its workers running their jobs to the end (a Cycles
    shard: minutes of both cores) with nobody to take the result; exiting by an exception lets the
    pool's ``with`` terminate them. A handler someone else installed is left alone.
    """
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _star(item: tuple[Callable[..., Any], tuple]) -> Any:
    fn, job = item
    return fn(*job)
