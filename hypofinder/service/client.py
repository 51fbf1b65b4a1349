"""A thin client of the service (httpx), used by ``hypofinder ask --server`` and ``mine --server``.

    client = ServiceClient("http://127.0.0.1:8000")          # key from HYPOFINDER_API_KEY, if set
    job = client.submit({"query": "...", "model": "fake"})
    for event, data in client.events(job["id"]): ...
    report = client.get(job["id"])["report"]

Imports nothing heavy: a cached ``ask --server`` stays fast.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import httpx

from hypofinder.errors import BadInputError, HypofinderError, one_line


class ServiceError(HypofinderError):
    """The service refused a request or could not be reached."""


class ServiceClient:
    def __init__(self, url: str, api_key: str | None = None, timeout: float = 30.0):
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise BadInputError(f"--server must be an http(s) URL, got {url!r}")
        key = api_key if api_key is not None else os.environ.get("HYPOFINDER_API_KEY")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.url = url.rstrip("/")
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ calls
    def _call(self, method: str, path: str, **kw: Any) -> Any:
        try:
            response = self.http.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise ServiceError(f"cannot reach the service at {self.url}: {one_line(exc, 200)}") from None
        if response.status_code >= 400:
            raise _error(response)
        return response.json()

    def submit(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/v1/jobs", json=body)

    def submit_batch(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/v1/batches", json=body)

    def get(self, job_id: str) -> dict[str, Any]:
        return self._call("GET", f"/v1/jobs/{job_id}")

    def cancel(self, job_id: str) -> dict[str, Any]:
        return self._call("DELETE", f"/v1/jobs/{job_id}")

    def results(self, batch_id: str, offset: int = 0, limit: int = 1000) -> dict[str, Any]:
        return self._call("GET", f"/v1/batches/{batch_id}/results", params={"offset": offset, "limit": limit})

    def events(self, job_id: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """(event, data) pairs of the job's server-sent events, until its ``end`` event."""
        try:
            with self.http.stream("GET", f"/v1/jobs/{job_id}/events", timeout=httpx.Timeout(30.0, read=None)) as r:
                if r.status_code >= 400:
                    r.read()
                    raise _error(r)
                event, data = "message", []
                for line in r.iter_lines():
                    if line.startswith(":"):
                        continue  # comment (ping)
                    if not line:
                        if data:
                            payload = json.loads("\n".join(data))
                            yield event, payload
                            if event == "end":
                                return
                        event, data = "message", []
                        continue
                    name, _, value = line.partition(":")
                    value = value[1:] if value.startswith(" ") else value
                    if name == "event":
                        event = value
                    elif name == "data":
                        data.append(value)
        except httpx.HTTPError as exc:
            raise ServiceError(f"lost the event stream of {job_id}: {one_line(exc, 200)}") from None

    def wait(self, job_id: str, on_event=None) -> dict[str, Any]:
        """Follow the events to the end; return the finished job (its report when done)."""
        for event, data in self.events(job_id):
            if on_event is not None:
                on_event(event, data)
        job = self.get(job_id)
        if job["state"] != "done":
            raise ServiceError(f"job {job_id} ended {job['state']}: {job.get('error') or ''}".rstrip(": "))
        return job


def _error(response: httpx.Response) -> HypofinderError:
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = response.text
    if isinstance(detail, list):  # FastAPI validation errors: the first, as one line
        first = detail[0] if detail else {}
        where = ".".join(str(p) for p in first.get("loc", [])[1:])
        detail = f"{where}: {first.get('msg')}" if where else first.get("msg")
    line = one_line(detail or response.reason_phrase)
    if response.status_code in (413, 422):
        return BadInputError(line)
    retry = response.headers.get("retry-after")
    if response.status_code == 429 and retry:
        line += f" (retry after {retry} s)"
    return ServiceError(f"service answered {response.status_code}: {line}")


# options that stay on the server (where its model calls go, its limits)
SERVER_ONLY = ("base_url", "timeout_s", "max_query_chars")


def remote_options(options: dict[str, Any]) -> dict[str, Any]:
    """The CLI's given run options as a request body; server-side ones are refused in one line."""
    local = [k for k in SERVER_ONLY if k in options]
    if local:
        raise BadInputError(
            f"--{local[0].replace('_s', '').replace('_', '-')} is the server's setting: not with --server"
        )
    body = dict(options)
    if "validate_claims" in body:
        body["validate"] = body.pop("validate_claims")
    return body


def ask_remote(url: str, query: str, options: dict[str, Any], on_progress=None):
    """``hypofinder ask`` through the service: submit, follow the progress events, return the report."""
    from hypofinder.models import HypothesisReport

    with ServiceClient(url) as client:
        job = client.submit({"query": query, **remote_options(options)})

        def event(name: str, data: dict[str, Any]) -> None:
            if on_progress is not None and name in ("progress", "state"):
                on_progress(data.get("step") or data.get("state"), data.get("message") or "")

        try:
            done = client.wait(job["id"], event)
        except KeyboardInterrupt:
            client.cancel(job["id"])
            raise
    return HypothesisReport.model_validate(done["report"])


class RemoteMiningJob:
    """``hypofinder mine --server``: the same file semantics as a local MiningJob (``prepare``, iterate,
    ``stats``, ``close``), with the questions run as a batch on the service.

    The local results file decides what is left to do, so a rerun resumes; each result the service finishes
    is appended to it as it arrives. Interrupting the client cancels the batch on the service."""

    def __init__(
        self,
        url: str,
        queries,
        *,
        out,
        options: dict[str, Any],
        concurrency: int = 1,
        retry_failed: bool = False,
        on_note=None,
    ):
        from hypofinder.mining import MiningStats

        self.url, self.queries, self.out = url, queries, out
        self.options, self.concurrency, self.retry_failed = remote_options(options), concurrency, retry_failed
        self.note = on_note or (lambda _m: None)
        self.stats = MiningStats()
        self.client: ServiceClient | None = None
        self.batch_id: str | None = None
        self._file = None
        self._pending: list = []
        self._finished = False

    def prepare(self):
        from pathlib import Path

        from hypofinder.mining import ResultsFile, read_queries
        from hypofinder.outfiles import check_out_path

        source = Path(self.queries)
        check_out_path(Path(self.out), source)
        qs = read_queries(source)
        for line in qs.problems:
            self.note(line)
        if not qs.items:
            raise BadInputError(f"no usable questions in {qs.source}")
        self._file = ResultsFile(self.out, self.note)
        status = self._file.open()
        retried = 0
        if self.retry_failed:
            failed = {i.id for i in qs.items if status.get(i.id) is False}
            retried = self._file.drop(failed)
            for rid in failed:
                status.pop(rid)
        self._pending = [it for it in qs.items if it.id not in status]
        self.stats = self.stats.model_copy(
            update=dict(
                total=len(qs.items),
                rejected=len(qs.problems),
                pending=len(self._pending),
                retried=retried,
                skipped=sum(1 for it in qs.items if status.get(it.id) is True),
                skipped_failed=sum(1 for it in qs.items if status.get(it.id) is False),
            )
        )
        return self.stats

    def __iter__(self):
        import time

        from hypofinder.mining import MinedResult

        if self._file is None:
            self.prepare()
        if not self._pending:
            return
        t0 = time.perf_counter()
        self.client = ServiceClient(self.url)
        items = [{"id": it.id, "query": it.query, **it.extra} for it in self._pending]
        self.batch_id = self.client.submit_batch({"queries": items, "concurrency": self.concurrency, **self.options})[
            "id"
        ]
        offset = 0
        for event, _data in self.client.events(self.batch_id):
            if event not in ("result", "end"):
                continue
            while True:
                page = self.client.results(self.batch_id, offset)
                for record in page["items"]:
                    result = MinedResult.from_record(record)
                    self._file.append(result)
                    _count(self.stats, result)
                    self.stats.seconds = round(time.perf_counter() - t0, 3)
                    yield result
                offset += len(page["items"])
                if page["next_offset"] is None:
                    break
            if event == "end":
                self._finished = True
                state = _data.get("state")
                if state != "done":
                    raise ServiceError(
                        f"batch {self.batch_id} ended {state}: {self.client.get(self.batch_id).get('error') or ''}"
                    )

    def close(self) -> None:
        if self.client is not None:
            if self.batch_id and not self._finished:
                try:
                    self.client.cancel(self.batch_id)
                except HypofinderError:
                    pass
            self.client.close()
        if self._file is not None:
            self._file.close()


def _count(stats, result) -> None:
    """One finished question into the counts (as the local mining job counts it)."""
    if result.report is None:
        stats.failed += 1
        return
    stats.done += 1
    run = result.report.run
    if run.cached:
        stats.cached += 1
        return
    stats.prompt_tokens += run.prompt_tokens
    stats.completion_tokens += run.completion_tokens
    stats.llm_calls += run.llm_calls
