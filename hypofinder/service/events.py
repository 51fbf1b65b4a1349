"""Server-sent events of one job, read from the store: every event since ``Last-Event-ID`` (or the start),
then new ones as the job writes them, until the job has finished and its last event is sent."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from hypofinder.service.store import JobStore

POLL_S = 0.2


async def job_events(store: JobStore, job_id: str, after: int = 0) -> AsyncIterator[dict]:
    """sse-starlette event dicts: ``id`` (the event's number), ``event`` (progress, result, state), ``data``."""
    while True:
        record = await asyncio.to_thread(store.get, job_id)
        events = await asyncio.to_thread(store.events, job_id, after)
        for ev in events:
            after = ev.seq
            yield {"id": str(ev.seq), "event": ev.event, "data": json.dumps(ev.data)}
        if record is None or (record.finished_state and not events):
            # one closing event with the final state, so clients need not guess why the stream ended
            state = record.state if record else "unknown"
            yield {"event": "end", "data": json.dumps({"state": state})}
            return
        if not events:
            await asyncio.sleep(POLL_S)
