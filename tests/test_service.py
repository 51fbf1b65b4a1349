"""The HTTP service, started for real (``hypofinder serve`` under uvicorn on a loopback port) and driven with
httpx: jobs and their events, the report against ``hypofinder ask --format json``, cancel, limits (413, 422,
429), the API key (401), a SIGKILL during a batch and the restart that finds everything finished."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from hypofinder.service.client import ServiceClient, ServiceError
from tests.servers import free_port, scripted_server, stop, wait_until_up

ROOT = Path(__file__).resolve().parent.parent
SEED = time.time_ns() % 10**6  # a seed of this run: the first job misses the shared report cache
QUERY = "How do sulfur vacancies change the band gap of MoS2 monolayers?"
STEP = "a concrete step of the plan, long enough"
# one answer that fits every schema (generate, review, synthesize): the slow scripted model's reply
ANSWER = json.dumps(
    {
        "summary": "Sulfur vacancies narrow the gap of MoS2 monolayers.",
        "statement": "Sulfur vacancies narrow the gap.",
        "rationale": "Vacancies add mid-gap states near the conduction band.",
        "steps": [STEP, STEP, STEP],
        "review": "A testable and specific claim about vacancies.",
        "novelty": 40,
        "plausibility": 70,
        "testability": 80,
        "specificity": 60,
        "score": 65,
        "representation": "A defect graph of the monolayer.",
        "hypothesis": "Sulfur vacancies narrow the gap.",
    }
)
HTTP = httpx.Client(timeout=120)  # the machine may be loaded: a warming server answers slowly
REPORT_RUN_VOLATILE = {"seconds", "step_seconds", "llm_seconds", "cached", "llm_calls", "cache_hits", "git_sha"}


def start(tmp: Path, port: int, **env: str) -> subprocess.Popen:
    environment = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HYPOFINDER_MODEL": "fake",
        "HYPOFINDER_JOB_STORE": str(tmp / "jobs.sqlite"),
        **env,
    }
    log = open(tmp / f"server-{port}-{time.time_ns()}.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "hypofinder.cli", "serve", "--port", str(port)],
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    proc.log_path = log.name  # type: ignore[attr-defined]
    wait_until_up(f"http://127.0.0.1:{port}/healthz", proc, timeout=120)
    return proc


def wait_warm(url: str, timeout: float = 900) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if HTTP.get(f"{url}/healthz").json()["warm"]:
            return
        time.sleep(0.5)
    raise AssertionError("the server did not warm up")


def wait_state(client: ServiceClient, job_id: str, states: set[str], timeout: float = 120) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = client.get(job_id)
        if job["state"] in states:
            return job
        time.sleep(0.2)
    raise AssertionError(f"{job_id} stayed {job['state']}")


@pytest.fixture(scope="module")
def slow_llm():
    with scripted_server([ANSWER], delay_s=1.5) as (base_url, requests):
        yield base_url


@pytest.fixture(scope="module")
def service(tmp_path_factory, slow_llm):
    tmp = tmp_path_factory.mktemp("service")
    port = free_port()
    env = dict(
        HYPOFINDER_BASE_URL=slow_llm,
        HYPOFINDER_MAX_RUNNING_JOBS="1",
        HYPOFINDER_MAX_QUEUED_JOBS="1",
        HYPOFINDER_MAX_REQUEST_BYTES="65536",
        HYPOFINDER_MAX_RETRIES="0",
    )
    url = f"http://127.0.0.1:{port}"
    state = {"proc": start(tmp, port, **env), "url": url, "tmp": tmp, "port": port, "env": env}
    try:
        wait_warm(url)
        yield state
    finally:
        stop(state["proc"])


def test_job_events_and_report_match_the_cli(service):
    url = service["url"]
    client = ServiceClient(url, timeout=120)
    # the curl of the issue: a JSON body sent as curl -d sends it (form-encoded content type)
    r = HTTP.post(
        f"{url}/v1/jobs",
        content=json.dumps({"query": QUERY, "model": "fake", "contexts": 2, "seed": SEED}),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    events = list(client.events(job_id))
    steps = [d["step"] for e, d in events if e == "progress"]
    assert steps[0] == "contexts" and steps[-1] == "done"
    assert {"generate", "review", "synthesize"} <= set(steps)
    assert [d["state"] for e, d in events if e == "state"] == ["running", "done"]
    assert events[-1] == ("end", {"state": "done"})
    job = client.get(job_id)
    assert job["state"] == "done" and len(job["report"]["contexts"]) == 2
    service["done_job"] = job

    # the CLI with the same options finds the server's report under the same cache key (model, seed,
    # contexts, prompts, inputs...): the options mean the same run on both sides
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "hypofinder.cli",
            "ask",
            QUERY,
            "--model",
            "fake",
            "--contexts",
            "2",
            "--seed",
            str(SEED),
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        timeout=600,
    )
    assert cli.returncode == 0, cli.stderr
    local, remote = json.loads(cli.stdout), json.loads(json.dumps(job["report"]))
    assert local["run"]["cached"] and not remote["run"]["cached"]
    for report in (local, remote):
        for key in REPORT_RUN_VOLATILE:
            report["run"].pop(key)
    assert remote == local

    listed = client._call("GET", "/v1/jobs", params={"limit": 1})
    assert listed["items"][0]["id"] == job_id and listed["items"][0]["report"] is None and listed["total"] >= 1


def test_ask_and_mine_through_the_server(service, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ask = subprocess.run(
        [
            sys.executable,
            "-m",
            "hypofinder.cli",
            "ask",
            QUERY,
            "--model",
            "fake",
            "-n",
            "2",
            "--seed",
            str(SEED),
            "--no-cache",
            "-f",
            "json",
            "--server",
            service["url"],
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )
    assert ask.returncode == 0, ask.stderr
    assert json.loads(ask.stdout)["synthesis"] == service["done_job"]["report"]["synthesis"]

    queries = tmp_path / "q.jsonl"
    queries.write_text(
        '{"id": "a", "query": "sulfur vacancies in MoS2"}\n{"id": "b", "query": "grain boundaries'
        ' in graphene", "topic": "2D"}\n'
    )
    out = tmp_path / "out.jsonl"
    cmd = [
        sys.executable,
        "-m",
        "hypofinder.cli",
        "mine",
        str(queries),
        "-o",
        str(out),
        "--model",
        "fake",
        "-n",
        "1",
        "--server",
        service["url"],
    ]
    mine = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert mine.returncode == 0, mine.stderr
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert sorted(x["id"] for x in lines) == ["a", "b"] and all("synthesis" in x for x in lines)
    assert next(x for x in lines if x["id"] == "b")["topic"] == "2D"
    again = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert again.returncode == 0 and len(out.read_text().splitlines()) == 2  # resumed: nothing left to do

    bad = subprocess.run(cmd + ["--timeout", "5"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert bad.returncode == 2 and bad.stderr.strip().startswith("error:") and "Traceback" not in bad.stderr


def test_limits_queue_and_cancel(service):
    url, client = service["url"], ServiceClient(service["url"], timeout=120)
    too_big = HTTP.post(f"{url}/v1/jobs", json={"query": "x" * 70_000})
    assert too_big.status_code == 413 and "too large" in too_big.json()["detail"]
    too_long = HTTP.post(f"{url}/v1/jobs", json={"query": "why " * 600})
    assert too_long.status_code == 422 and "too long" in too_long.json()["detail"]
    for body in (
        {"query": QUERY, "contexts": 11},
        {"query": QUERY, "colour": "red"},
        {"query": QUERY, "base_url": "http://example.org/v1"},
        {"query": "  "},
    ):
        assert HTTP.post(f"{url}/v1/jobs", json=body).status_code == 422, body
    assert HTTP.get(f"{url}/v1/jobs/job_nope").status_code == 404

    # the slow scripted model: one job runs, one waits, the third is refused
    slow = {"query": QUERY, "model": "scripted", "contexts": 2, "cache": False}
    running = client.submit(slow)["id"]
    queued = client.submit(slow)["id"]
    full = HTTP.post(f"{url}/v1/jobs", json=slow)
    assert full.status_code == 429 and int(full.headers["retry-after"]) > 0
    assert client.cancel(queued)["state"] == "cancelled"
    for event, data in client.events(running):
        if event == "progress" and data["step"] == "generate":
            break
    client.cancel(running)
    job = wait_state(client, running, {"cancelled", "done", "failed"}, timeout=60)
    assert job["state"] == "cancelled" and job["report"] is None
    assert client.get(queued)["state"] == "cancelled"


def test_kill_during_batch_then_restart_and_resume(service):
    client = ServiceClient(service["url"], timeout=120)
    items = [{"id": f"q{i}", "query": f"sulfur vacancies in MoS2, case {i}"} for i in range(4)]
    batch = client.submit_batch({"queries": items, "model": "scripted", "contexts": 1, "cache": False})["id"]
    for event, _data in client.events(batch):
        if event == "result":
            break
    service["proc"].send_signal(signal.SIGKILL)
    service["proc"].wait()

    service["proc"] = start(service["tmp"], service["port"], **service["env"])
    view = client._call("GET", f"/v1/batches/{batch}")
    assert view["state"] == "interrupted"
    done_before = client.results(batch)["items"]
    assert 1 <= len(done_before) < 4 and len({r["id"] for r in done_before}) == len(done_before)
    assert view["status"]["pending"] == 4 - len(done_before)
    assert view["status"]["pending_state"] == "interrupted"
    finished = client.get(service["done_job"]["id"])  # the job finished before the kill is all there
    assert finished["state"] == "done" and finished["report"] == service["done_job"]["report"]

    client._call("POST", f"/v1/batches/{batch}/resume")
    wait_state(client, batch, {"done", "failed"}, timeout=180)
    results = client.results(batch)["items"]
    assert sorted(r["id"] for r in results) == [it["id"] for it in items]  # each question once
    assert [r["id"] for r in results[: len(done_before)]] == [r["id"] for r in done_before]
    assert client._call("GET", f"/v1/batches/{batch}")["status"]["pending"] == 0


def test_api_key_required_and_never_shown(tmp_path):
    refused = subprocess.run(
        [sys.executable, "-m", "hypofinder.cli", "serve", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env={k: v for k, v in {**os.environ, "PYTHONPATH": str(ROOT)}.items() if k != "HYPOFINDER_API_KEY"},
    )
    assert refused.returncode == 2 and "HYPOFINDER_API_KEY" in refused.stderr

    key = "s3cret-key-for-tests"
    port = free_port()
    proc = start(tmp_path, port, HYPOFINDER_API_KEY=key)
    url = f"http://127.0.0.1:{port}"
    try:
        assert HTTP.get(f"{url}/v1/jobs").status_code == 401
        assert HTTP.get(f"{url}/v1/jobs", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert HTTP.get(f"{url}/healthz").status_code == 200
        assert ServiceClient(url, api_key=key, timeout=120)._call("GET", "/v1/jobs")["total"] == 0
        with pytest.raises(ServiceError, match="401"):
            ServiceClient(url, api_key="", timeout=120)._call("GET", "/v1/models")
        answers = [
            HTTP.get(f"{url}{p}", headers={"Authorization": f"Bearer {key}"}).text
            for p in ("/v1/models", "/healthz", "/openapi.json", "/v1/jobs")
        ]
    finally:
        stop(proc)
    assert not any(key in a for a in answers)
    assert key not in Path(proc.log_path).read_text()


def test_direct_calls(service):
    url = service["url"]
    hits = HTTP.get(f"{url}/v1/ontology/search", params={"q": "band gap", "k": 3}).json()
    assert len(hits) == 3 and all("label" in h for h in hits)
    assert "fake" in [m["name"] for m in HTTP.get(f"{url}/v1/models").json()]
    screen = HTTP.post(f"{url}/v1/defects/screen", json={"host": "MoS2", "defects": "vS,vS", "limit": 3}, timeout=120)
    assert screen.status_code == 200, screen.text
    assert len(screen.json()["best"]) == 3 and screen.json()["n_distinct"] > 3
    assert (
        HTTP.post(f"{url}/v1/defects/screen", json={"host": "MoS2", "defects": "vS", "limit": 500}).status_code == 422
    )
    from hypofinder.defects.data import iter_tar_cifs
    from hypofinder.settings import settings

    stem, text = next(iter_tar_cifs(settings().dmd_dir / "low_MoS2" / "structures.tar.gz"))
    files = [
        ("files", (f"{stem}.cif", text.encode(), "chemical/x-cif")),
        ("files", ("junk.cif", b"no CIF", "text/plain")),
    ]
    pred = HTTP.post(f"{url}/v1/defects/predict", files=files, timeout=120)
    assert pred.status_code == 200, pred.text
    good, junk = pred.json()
    assert good["file"] == f"{stem}.cif" and good["error"] is None and good["host"] == "MoS2"
    assert 0 < good["homo_lumo_gap"] < 3 and good["defects"]
    assert junk["file"] == "junk.cif" and junk["error"]
