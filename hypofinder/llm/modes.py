"""Which structured-output mode an endpoint supports: discovered once, safely under concurrency, and
remembered per endpoint across processes (a small JSON file in the cache folder, under a file lock).

While an endpoint's mode is not yet known, one request at a time probes it; the others wait and then
use what the probe found, so each unsupported mode is tried at most once per endpoint. A request whose
mode was dropped meanwhile simply retries with the current one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock

from hypofinder.outfiles import write_atomic

log = logging.getLogger("hypofinder.llm")
_memories: dict[tuple[str, str], ModeMemory] = {}
_memories_lock = threading.Lock()


class ModeMemory:
    def __init__(self, endpoint: str, modes: tuple[str, ...], path: Path | None):
        self.endpoint, self.path = endpoint, path
        self._modes = list(modes)
        self._confirmed = len(modes) == 1
        self._state = threading.Lock()
        self._probe = threading.Lock()
        self._load()

    @classmethod
    def for_endpoint(cls, endpoint: str, modes: tuple[str, ...], path: Path | None) -> ModeMemory:
        """One memory per endpoint and store per process, shared by every StructuredLLM talking to it
        (without a store, a fresh memory for the caller alone)."""
        if path is None:
            return cls(endpoint, modes, None)
        key = (endpoint, str(path))
        with _memories_lock:
            if key not in _memories:
                _memories[key] = cls(endpoint, modes, path)
            return _memories[key]

    # ------------------------------------------------------------------ state
    @property
    def current(self) -> str:
        with self._state:
            return self._modes[0]

    @property
    def confirmed(self) -> bool:
        return self._confirmed

    def drop(self, mode: str) -> bool:
        """Forget ``mode`` for this endpoint; False when no other mode is left to try."""
        with self._state:
            if mode in self._modes and len(self._modes) > 1:
                self._modes.remove(mode)
                log.info(
                    "endpoint %s does not support structured-output mode %s; using %s from now on",
                    self.endpoint,
                    mode,
                    self._modes[0],
                )
                self._save(unsupported=mode)
            return len(self._modes) > 1 or self._modes[0] != mode

    def confirm(self, mode: str) -> None:
        with self._state:
            if not self._confirmed and self._modes and self._modes[0] == mode:
                self._confirmed = True
                self._save(works=mode)

    @contextlib.contextmanager
    def probing(self) -> Iterator[None]:
        """Hold the probe while the mode is unknown; released as soon as another probe has settled it."""
        if self._confirmed:
            yield
            return
        self._probe.acquire()
        held = True
        try:
            if self._confirmed:  # settled while we waited
                self._probe.release()
                held = False
            yield
        finally:
            if held:
                self._probe.release()

    # ------------------------------------------------------------------ persistence
    def _load(self) -> None:
        if self.path is None or not self.path.exists():
            return
        try:
            entry = json.loads(self.path.read_text()).get(self.endpoint, {})
        except (OSError, ValueError):
            return
        keep = [m for m in self._modes if m not in entry.get("unsupported", [])]
        if keep:
            self._modes = keep
        if entry.get("works") in self._modes:
            self._modes.remove(entry["works"])
            self._modes.insert(0, entry["works"])
            self._confirmed = True

    def _save(self, works: str | None = None, unsupported: str | None = None) -> None:
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with FileLock(str(self.path) + ".lock", timeout=10):
                data = json.loads(self.path.read_text()) if self.path.exists() else {}
                entry = data.setdefault(self.endpoint, {})
                if works:
                    entry["works"] = works
                if unsupported and unsupported not in entry.setdefault("unsupported", []):
                    entry["unsupported"].append(unsupported)
                write_atomic(self.path, json.dumps(data, indent=1, sort_keys=True))
        except (OSError, ValueError, TimeoutError):
            pass  # remembering is an optimisation; the run goes on
