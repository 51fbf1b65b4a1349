"""Real OpenAI-compatible servers on 127.0.0.1 for tests and benchmarks.

- ``llama_server()``: ``python -m llama_cpp.server`` serving the embedded SmolLM2 GGUF.
- ``scripted_server(replies)``: a real HTTP server speaking the OpenAI chat-completions protocol
  whose assistant replies are scripted text (for malformed-JSON / repair / retry paths).
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, proc: subprocess.Popen | None, timeout: float) -> None:
    """Poll ``url`` until it answers 2xx; fail early if ``proc`` exits."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited early with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"server at {url} did not come up in {timeout} s")


@contextlib.contextmanager
def llama_server(n_threads: int = 2, n_ctx: int = 2048):
    """Yield the base URL (…/v1) of a real llama.cpp OpenAI-compatible server."""
    from hypofinder.llm.providers import local_model_path

    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            local_model_path(),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            str(n_ctx),
            "--n_threads",
            str(n_threads),
            "--verbose",
            "False",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/v1/models", proc, timeout=120)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        stop(proc)


def stop(proc: subprocess.Popen, timeout: float = 15) -> None:
    """Terminate a server process, killing it if it does not exit in time."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class _Scripted(BaseHTTPRequestHandler):
    replies: list[str] = []
    requests: list[dict] = []
    reject_response_format: bool = False
    delay_s: float = 0.0
    lock = threading.Lock()

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        self._send(200, {"object": "list", "data": [{"id": "scripted", "object": "model"}]})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        with self.lock:  # concurrent requests each get their own reply
            self.requests.append(body)
            n = len(self.requests)
        time.sleep(self.delay_s)
        if self.reject_response_format and "response_format" in body:
            self._send(400, {"error": {"message": "response_format is not supported", "type": "invalid_request_error"}})
            return
        i = min(n - 1, len(self.replies) - 1)
        reply = self.replies[i]  # a text, or (text, finish_reason): ("{...", "length") is an answer cut off
        text, finish = reply if isinstance(reply, tuple) else (reply, "stop")
        self._send(
            200,
            {
                "id": f"chatcmpl-{len(self.requests)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "scripted"),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
            },
        )

    def _send(self, code: int, payload: dict):
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@contextlib.contextmanager
def scripted_server(replies: list, reject_response_format: bool = False, delay_s: float = 0.0):
    """Yield (base_url, requests) for a server replying with ``replies`` in turn (last one repeats)."""
    handler = type(
        "Handler",
        (_Scripted,),
        {
            "replies": list(replies),
            "requests": [],
            "delay_s": delay_s,
            "lock": threading.Lock(),
            "reject_response_format": reject_response_format,
        },
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", handler.requests
    finally:
        server.shutdown()
        server.server_close()
