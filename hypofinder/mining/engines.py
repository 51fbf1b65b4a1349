"""Mining engines: ``local`` (worker threads, one HypothesisFinder each) and ``ray`` (one Ray actor per
worker; actors return result dicts, the driver writes the lines as they arrive)."""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from hypofinder.errors import BadInputError, HypofinderError
from hypofinder.errors import one_line as _one_line
from hypofinder.mining.inputs import QueryItem
from hypofinder.mining.results import MinedResult, run_one

WORKER_PREFIX = "hypofinder-miner-"
STOP_GRACE_S = 10.0  # on a stop, wait this long for questions in flight before leaving their threads behind


def local_results(
    items: list[QueryItem], make_finder: Callable[[], Any], workers: int, stop: threading.Event
) -> Iterator[MinedResult]:
    """Worker threads, each with its own finder; on an early stop the questions in flight get STOP_GRACE_S."""
    todo: queue.Queue[QueryItem] = queue.Queue()
    done: queue.Queue[MinedResult] = queue.Queue()
    for item in items:
        todo.put(item)

    def work() -> None:
        finder = None
        while not stop.is_set():
            try:
                item = todo.get_nowait()
            except queue.Empty:
                return
            try:
                finder = finder or make_finder()
            except Exception as exc:  # noqa: BLE001 - recorded for this item
                done.put(run_one(_Broken(exc), item))
                continue
            done.put(run_one(finder, item))

    threads = [
        threading.Thread(target=work, name=f"{WORKER_PREFIX}{i}", daemon=True) for i in range(min(workers, len(items)))
    ]
    for t in threads:
        t.start()
    try:
        for _ in range(len(items)):
            while True:
                try:
                    result = done.get(timeout=0.25)
                    break
                except queue.Empty:
                    if not any(t.is_alive() for t in threads) and done.empty():
                        return
            yield result
    finally:  # stopped early (Ctrl-C, consumer gone): let the questions in flight end, unwritten
        stop.set()
        deadline = time.monotonic() + STOP_GRACE_S
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))


def busy_workers() -> int:
    """Worker threads still running a question (after a stop whose grace period ran out)."""
    return sum(1 for t in threading.enumerate() if t.name.startswith(WORKER_PREFIX) and t.is_alive())


class WorkerError(HypofinderError):
    """A worker (thread or Ray actor) could not run a question: it died or could not start."""


class _Broken:
    """A finder that could not be made: every question fails with the same reason."""

    def __init__(self, exc: Exception):
        self.exc = exc

    def find(self, query: str):
        raise self.exc


class RayMiner:
    """Ray actor body: one HypothesisFinder per actor, with the driver's settings and run configuration."""

    def __init__(self, settings_state: dict[str, Any]):
        from hypofinder.pipeline import HypothesisFinder
        from hypofinder.settings import configure

        configure(**settings_state)
        self.finder = HypothesisFinder()

    def run(self, item: dict[str, Any]) -> dict[str, Any]:
        return run_one(self.finder, QueryItem.model_validate(item)).model_dump(mode="json")


def start_ray(workers: int, address: str | None):
    """Connect to ``address`` or start a local Ray (no dashboard, quiet); return (ray, started_here)."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        import ray
    except ModuleNotFoundError:
        raise BadInputError("--engine ray needs the 'ray' package (pip install ray)") from None
    if ray.is_initialized():
        return ray, False
    if address:
        _check_reachable(address)
    try:
        quiet = dict(log_to_driver=False, logging_level=logging.ERROR)
        if address:
            ray.init(address=address, **quiet)
        else:
            ray.init(num_cpus=workers, include_dashboard=False, **quiet)
    except Exception as exc:  # noqa: BLE001 - one line for people
        where = f" at {address}" if address else ""
        raise BadInputError(f"cannot start Ray{where}: {_one_line(exc, 200)}") from None
    return ray, True


def _check_reachable(address: str) -> None:
    """Ray retries an unreachable cluster address for many minutes: test the port first (5 s)."""
    import socket
    from urllib.parse import urlparse

    if address == "auto":
        return
    parsed = urlparse(address if "://" in address else f"tcp://{address}")
    try:
        host, port = parsed.hostname, parsed.port
    except ValueError:
        host = port = None
    if not host or not port:
        raise BadInputError(f"--ray-address must be HOST:PORT, ray://HOST:PORT or auto, got {address!r}")
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError as exc:
        raise BadInputError(f"cannot reach Ray at {address} ({exc.strerror or exc})") from None


def ray_results(
    items: list[QueryItem], run: Any, workers: int, address: str | None, stop: threading.Event
) -> Iterator[MinedResult]:
    """One actor per worker, two questions in flight per actor; results yielded as they arrive.

    Each actor gets the driver's settings with ``run`` (a RunConfig) as its run configuration: one object."""
    from hypofinder.settings import settings

    ray, started = start_ray(workers, address)
    actor_cls = ray.remote(num_cpus=1)(RayMiner)
    state = {**settings().model_dump(exclude={"run"}), "run": run.model_dump()}
    actors, inflight, replaced = [], {}, {}
    pending = iter(items)
    replacements = max(2, workers)

    def submit(actor) -> None:
        item = next(pending, None)
        if item is not None and not stop.is_set():
            inflight[actor.run.remote(item.model_dump(mode="json"))] = (actor, item)

    try:
        actors = [actor_cls.remote(state) for _ in range(min(workers, len(items)))]
        for _ in range(2):
            for actor in actors:
                submit(actor)
        while inflight:
            ready, _ = ray.wait(list(inflight), num_returns=1, timeout=0.25)
            for ref in ready:
                actor, item = inflight.pop(ref)
                try:
                    result = MinedResult.model_validate(ray.get(ref))
                except ray.exceptions.RayActorError as exc:
                    result = run_one(_Broken(WorkerError(f"Ray worker died: {_one_line(exc, 120)}")), item)
                    if id(actor) not in replaced:  # first news of this death: start a fresh actor
                        if replacements == 0:
                            raise HypofinderError(f"Ray workers keep dying: {_one_line(exc, 200)}") from None
                        replacements -= 1
                        replaced[id(actor)] = actor_cls.remote(state)
                        actors.append(replaced[id(actor)])
                    actor = replaced[id(actor)]
                except ray.exceptions.RayError as exc:
                    result = run_one(_Broken(WorkerError(f"Ray task failed: {_one_line(exc, 200)}")), item)
                yield result
                submit(actor)
    finally:
        for actor in actors:
            try:
                ray.kill(actor)
            except Exception:  # noqa: BLE001 - already gone
                pass
        if started:
            ray.shutdown()
