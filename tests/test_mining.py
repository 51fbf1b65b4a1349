"""Batch mining: resumable JSONL output that survives SIGINT/SIGKILL, bad input lines, --retry-failed,
a real llama.cpp server with concurrency, and Ray giving the same reports as the local engine.

Runs the real pipeline (real PhySH index, real ontology contexts) with the fake model unless said otherwise;
the session's temporary HYPOFINDER_CACHE_DIR (tests/conftest.py) holds the index, built once.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hypofinder.cli import main
from hypofinder.mining import MinedResult, ResultsFile, mine
from hypofinder.settings import PROJECT_ROOT
from tests.servers import llama_server, scripted_server

FAKE = ["-m", "fake", "--no-validate", "-n", "1"]
TIMING = ("seconds", "step_seconds", "llm_seconds")


def question(i: int, tag: str) -> str:
    topics = [
        "sulfur vacancies in MoS2",
        "antisite defects in WSe2",
        "boron nitride grain boundaries",
        "magnetic domain walls",
        "phonon transport in InSe",
    ]
    return f"How do {topics[i % len(topics)]} change the electronic band gap? ({tag} {i})"


def write_jsonl(path: Path, records: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


def read_out(path: Path) -> list[dict]:
    """Every line must be a whole JSON object ending in a newline."""
    raw = path.read_bytes()
    assert raw == b"" or raw.endswith(b"\n"), "torn last line"
    return [json.loads(line) for line in raw.decode().split("\n")[:-1]]


def cli(*args: str) -> int:
    """The real CLI entry point in-process; mine exits non-zero through SystemExit."""
    try:
        return main([str(a) for a in args])
    except SystemExit as exc:
        return exc.code


def spawn(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "hypofinder.cli", *map(str, args)],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_lines(path: Path, n: int, proc: subprocess.Popen, timeout: float = 180) -> int:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if path.exists() and (count := path.read_bytes().count(b"\n")) >= n:
            return count
        assert proc.poll() is None, f"job ended early: {proc.communicate()}"
        time.sleep(0.01)
    proc.kill()
    raise AssertionError(f"no {n} lines in {timeout} s")


# ----------------------------------------------------------------------------- crash safety


def test_sigint_then_sigkill_then_resume_keeps_every_id_once(tmp_path):
    n = 400  # enough that the job is still running when the signals arrive
    queries = write_jsonl(
        tmp_path / "q.jsonl", [{"id": f"q{i}", "query": question(i, "kill"), "batch": i % 4} for i in range(n)]
    )
    out = tmp_path / "results.jsonl"
    args = ["mine", queries, "--out", out, *FAKE, "--concurrency", "2", "--no-cache"]

    proc = spawn(*args)  # Ctrl-C: exits 130, says how to resume
    wait_for_lines(out, 5, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "run the same command again to resume" in err
    after_int = read_out(out)
    assert 5 <= len(after_int) < n

    proc = spawn(*args)  # kill -9 mid-way: whole lines only, nothing lost
    wait_for_lines(out, len(after_int) + 5, proc)
    proc.kill()
    proc.communicate(timeout=30)
    after_kill = read_out(out)
    assert len(after_int) + 5 <= len(after_kill) < n, "the job was not killed mid-way"
    assert after_kill[: len(after_int)] == after_int  # finished results are never rewritten

    assert cli(*args) == 0
    lines = read_out(out)
    assert sorted(d["id"] for d in lines) == sorted(f"q{i}" for i in range(n))  # every id exactly once
    assert lines[: len(after_kill)] == after_kill
    for d in lines:
        i = int(d["id"][1:])
        assert d["batch"] == i % 4 and d["query"] == question(i, "kill")
        assert d["run"]["provider"] == "fake" and len(d["contexts"]) == 1 and "error" not in d


def test_torn_last_line_is_cut_and_redone(tmp_path, capsys):
    queries = write_jsonl(tmp_path / "q.jsonl", [{"id": f"t{i}", "query": question(i, "torn")} for i in range(4)])
    out = tmp_path / "results.jsonl"
    assert cli("mine", queries, "--out", out, *FAKE) == 0
    whole = out.read_bytes().split(b"\n")[:-1]
    torn = whole[-1][: len(whole[-1]) // 2]  # what a crash inside the last write could leave
    out.write_bytes(b"\n".join(whole[:-1]) + b"\n" + torn)
    stale = tmp_path / ".results.jsonl.abc123.tmp"  # what a kill inside a --retry-failed rewrite could leave
    stale.write_text("partial")
    capsys.readouterr()

    assert cli("mine", queries, "--out", out, *FAKE) == 0
    captured = capsys.readouterr()
    assert "cut an unfinished last line" in captured.err
    assert "done (this run)" in captured.out
    lines = read_out(out)
    assert sorted(d["id"] for d in lines) == ["t0", "t1", "t2", "t3"]
    assert json.loads(whole[-1])["id"] == lines[-1]["id"]  # the torn id was mined again
    assert not stale.exists()


def test_duplicate_lines_in_output_are_compacted(tmp_path):
    out = tmp_path / "results.jsonl"
    good = mine([("d1", question(1, "dup")), ("d2", question(2, "dup"))], model="fake", validate=False, contexts=1)
    reports = {r.id: r.to_record() for r in good}
    assert set(reports) == {"d1", "d2"}
    error = {"id": "d1", "query": "q", "error": "boom", "error_kind": "LLMError"}
    write_jsonl(out, [error, reports["d1"], reports["d2"], {**error, "id": "d2"}])

    rf = ResultsFile(out)
    status = rf.open()  # a report beats an error line for the same id; the superseded lines go
    rf.close()
    assert status == {"d1": True, "d2": True}
    assert read_out(out) == [reports["d1"], reports["d2"]]
    assert MinedResult.from_record(read_out(out)[0]).ok


# ----------------------------------------------------------------------------- bad input


def test_bad_jsonl_lines_are_named_and_good_lines_still_run(tmp_path, capsys):
    queries = write_jsonl(
        tmp_path / "q.jsonl",
        [
            {"id": "a", "query": question(0, "bad"), "topic": "MoS2"},
            {"id": 7, "query": question(1, "bad")},
            '{"id": "broken", "query": ',
            {"id": "b"},
            {"query": question(2, "bad")},
            ["not", "an", "object"],
            {"id": "a", "query": "again"},
            {"id": "c", "query": question(3, "bad"), "run": "clashes with the report"},
            "",
            {"id": "d", "query": question(4, "bad")},
        ],
    )
    out = tmp_path / "results.jsonl"
    assert cli("mine", queries, "--out", out, *FAKE) == 1  # rejected lines: exit 1
    err = capsys.readouterr().err
    assert "q.jsonl line 3: not valid JSON" in err
    assert "q.jsonl line 4: missing 'query'" in err
    assert "q.jsonl line 5: missing 'id'" in err
    assert "q.jsonl line 6: expected an object" in err
    assert "q.jsonl line 7: duplicate id 'a' (first at line 1)" in err
    assert "q.jsonl line 8: field 'run' clashes" in err
    assert "Traceback" not in err
    lines = {d["id"]: d for d in read_out(out)}
    assert set(lines) == {"a", "7", "d"}
    assert lines["a"]["topic"] == "MoS2" and lines["a"]["query"] == question(0, "bad")
    assert all("contexts" in d and "synthesis" in d and "run" in d for d in lines.values())


def test_csv_input_carries_columns_and_records_bad_queries(tmp_path, capsys):
    queries = tmp_path / "q.csv"
    queries.write_text(
        "id,query,topic\n"
        f'c1,"{question(0, "csv")}",vacancies\n'
        "c2,,empty\n"
        f'c3,"{question(1, "csv")}",x,extra field\n'
        f'c4,"{question(2, "csv")}",antisites\n'
    )
    out = tmp_path / "results.jsonl"
    assert cli("mine", queries, "--out", out, *FAKE) == 1
    captured = capsys.readouterr()
    assert "q.csv line 4: more fields than the header has columns" in captured.err
    lines = {d["id"]: d for d in read_out(out)}
    assert set(lines) == {"c1", "c2", "c4"}
    assert lines["c1"]["topic"] == "vacancies" and lines["c1"]["contexts"]
    assert lines["c2"]["error"] == "the question is empty" and lines["c2"]["error_kind"] == "BadInputError"
    assert lines["c2"]["topic"] == "empty"


def test_unusable_input_or_output_stops_before_any_work(tmp_path, capsys):
    good = write_jsonl(tmp_path / "q.jsonl", [{"id": "u1", "query": question(0, "unusable")}])
    cases = [
        (["mine", good, "--out", tmp_path / "missing" / "r.jsonl"], "--out folder"),
        (["mine", good, "--out", tmp_path], "is a folder"),
        (["mine", tmp_path / "nope.jsonl", "--out", tmp_path / "r.jsonl"], "not found"),
        (["mine", tmp_path / "q.txt", "--out", tmp_path / "r.jsonl"], "give a .jsonl or .csv file"),
        (
            ["mine", write_jsonl(tmp_path / "bad.jsonl", ["{", {"id": "x"}]), "--out", tmp_path / "r.jsonl"],
            "no usable questions in bad.jsonl (2 line(s) rejected)",
        ),
        (["mine", good, "--out", tmp_path / "r.jsonl", "--concurrency", "0"], "concurrency must be"),
        (["mine", good, "--out", tmp_path / "r.jsonl", "--contexts", "11"], "contexts must be 1-10"),
        (
            ["mine", good, "--out", tmp_path / "r.jsonl", "--engine", "ray", "--ray-address", "127.0.0.1:1"],
            "cannot reach Ray at 127.0.0.1:1",
        ),
    ]
    for args, message in cases:
        capsys.readouterr()
        assert cli(args[0], *FAKE, *args[1:]) == 2, args  # the case's own options come last and win
        err = capsys.readouterr().err  # rejected-line warnings, then one error line
        assert err.splitlines()[-1].startswith("error: ") and message in err.splitlines()[-1], (args, err)
        assert "Traceback" not in err
    assert not (tmp_path / "r.jsonl").exists() or (tmp_path / "r.jsonl").read_bytes() == b""

    # an output that is not ours, or one another job is writing: refused, left as it was
    foreign = tmp_path / "foreign.jsonl"
    foreign.write_text('{"id": "u1", "query": "x", "error": "e"}\nhello\n')
    assert cli("mine", good, "--out", foreign, *FAKE) == 2
    assert "foreign.jsonl line 2 is not a mining result line" in capsys.readouterr().err
    assert foreign.read_text().endswith("hello\n")
    busy = tmp_path / "busy.jsonl"
    holder = ResultsFile(busy)
    holder.open()
    try:
        assert cli("mine", good, "--out", busy, *FAKE) == 2
        assert "being written by another mining job" in capsys.readouterr().err
    finally:
        holder.close()


# ----------------------------------------------------------------------------- failures and --retry-failed


def test_failures_are_error_lines_and_retry_failed_reruns_them(tmp_path, capsys):
    records = [{"id": f"f{i}", "query": question(i, "retry"), "k": i} for i in range(3)]
    records.append({"id": "long", "query": "why " * 600})  # > 2000 characters: check_query refuses it
    queries = write_jsonl(tmp_path / "q.jsonl", records)
    out = tmp_path / "results.jsonl"
    with scripted_server(["this is not JSON at all"]) as (url, requests):
        args = [
            "mine",
            queries,
            "--out",
            out,
            "-m",
            "scripted",
            "--base-url",
            url,
            "--max-retries",
            "0",
            "--no-validate",
            "-n",
            "1",
            "--concurrency",
            "2",
        ]
        assert cli(*args) == 1
        assert requests, "the server was not asked"
    first = {d["id"]: d for d in read_out(out)}
    assert set(first) == {"f0", "f1", "f2", "long"}
    for i in range(3):
        line = first[f"f{i}"]
        assert line["error_kind"] == "LLMError" and "no valid JSON" in line["error"] and line["k"] == i
        assert "\n" not in line["error"]
    assert first["long"]["error_kind"] == "BadInputError" and "too long" in first["long"]["error"]

    before = out.read_bytes()
    capsys.readouterr()
    assert cli("mine", queries, "--out", out, *FAKE) == 1  # without --retry-failed: nothing to do
    captured = capsys.readouterr()
    assert out.read_bytes() == before and "add --retry-failed" in captured.err

    assert cli("mine", queries, "--out", out, *FAKE, "--retry-failed") == 1  # 'long' fails again
    lines = read_out(out)
    assert sorted(d["id"] for d in lines) == ["f0", "f1", "f2", "long"]  # exactly one line per id
    by_id = {d["id"]: d for d in lines}
    for i in range(3):
        assert "error" not in by_id[f"f{i}"] and by_id[f"f{i}"]["run"]["provider"] == "fake"
        assert by_id[f"f{i}"]["k"] == i
    assert "too long" in by_id["long"]["error"]
    assert not list(tmp_path.glob(".results.jsonl.*")), "temp file left behind"


# ----------------------------------------------------------------------------- Python API


def test_api_yields_results_and_counts(tmp_path):
    out = tmp_path / "results.jsonl"
    items = [("p1", question(1, "api")), {"id": "p2", "query": question(2, "api"), "note": "x"}, ("p3", "")]
    job = mine(items, out=out, model="fake", contexts=2, concurrency=2)  # with the bridge's evidence
    results = {r.id: r for r in job}
    assert set(results) == {"p1", "p2", "p3"}
    assert results["p1"].ok and len(results["p1"].report.contexts) == 2 and results["p2"].extra == {"note": "x"}
    assert results["p1"].report.run.validate_enabled and results["p1"].report.synthesis.validation is not None
    assert not results["p3"].ok and results["p3"].error == "the question is empty"
    s = job.stats
    assert (s.total, s.done, s.failed, s.skipped) == (3, 2, 1, 0) and s.exit_code == 1
    reports = [r.report for r in results.values() if r.ok]
    assert s.prompt_tokens == sum(r.run.prompt_tokens for r in reports if not r.run.cached)
    parsed = {d["id"]: MinedResult.from_record(d) for d in read_out(out)}
    assert parsed == results  # the file round-trips to the same results

    again = mine(items, out=out, model="fake", contexts=2)
    assert list(again) == [] and again.stats.skipped == 2 and again.stats.skipped_failed == 1


# ----------------------------------------------------------------------------- real server, Ray


@pytest.mark.slow
def test_real_llama_server_with_concurrency(tmp_path):
    queries = write_jsonl(tmp_path / "q.jsonl", [{"id": f"s{i}", "query": question(i, "server")} for i in range(2)])
    out = tmp_path / "results.jsonl"
    with llama_server() as url:
        host = url.split("/")[2]
        rc = cli(
            "mine",
            queries,
            "--out",
            out,
            "-m",
            "smollm2",
            "--base-url",
            url,
            "--no-validate",
            "-n",
            "1",
            "--concurrency",
            "2",
            "--no-cache",
            "--max-retries",
            "0",
            "--timeout",
            "300",
        )
    lines = read_out(out)
    assert sorted(d["id"] for d in lines) == ["s0", "s1"]
    assert rc == (1 if any("error" in d for d in lines) else 0)
    for d in lines:
        if "error" in d:  # a 135M model may still fail to fill a schema: then it is a one-line LLM error
            assert d["error_kind"] == "LLMError" and "smollm2" in d["error"]
        else:
            assert d["run"]["provider"] == "openai" and d["run"]["base_url_host"] == host
            assert d["run"]["llm_calls"] >= 3 and d["run"]["completion_tokens"] > 0
            assert d["synthesis"]["hypothesis"].strip()


@pytest.mark.slow
def test_ray_engine_gives_the_same_reports_as_local(tmp_path):
    queries = write_jsonl(
        tmp_path / "q.jsonl", [{"id": f"r{i}", "query": question(i, "ray"), "n": i} for i in range(6)]
    )
    common = ["-m", "fake", "--validate", "-n", "2", "--no-cache", "--concurrency", "2"]  # bridge evidence too
    ray_out, local_out = tmp_path / "ray.jsonl", tmp_path / "local.jsonl"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "hypofinder.cli",
            "mine",
            str(queries),
            "--out",
            str(ray_out),
            "--engine",
            "ray",
            *common,
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert cli("mine", queries, "--out", local_out, *common) == 0

    def by_id(path):
        out = {}
        for d in read_out(path):
            for k in TIMING:
                d["run"].pop(k)
            out[d["id"]] = d
        return out

    def same(a, b) -> bool:
        """Equal, floats to 1e-6: the predictor's sums may differ in the last bits with the thread count."""
        if isinstance(a, dict) and isinstance(b, dict):
            return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
        if isinstance(a, list) and isinstance(b, list):
            return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
        if isinstance(a, float) and isinstance(b, float):
            return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)
        return a == b

    ray_lines, local_lines = by_id(ray_out), by_id(local_out)
    assert sorted(ray_lines) == [f"r{i}" for i in range(6)]
    assert same(ray_lines, local_lines)
    # resume works the same: a rerun on Ray has nothing left to do and writes nothing
    before = ray_out.read_bytes()
    assert cli("mine", queries, "--out", ray_out, "--engine", "ray", *common) == 0
    assert ray_out.read_bytes() == before
