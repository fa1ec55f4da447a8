"""A tiny OpenAI-compatible chat-completions server on loopback, for tests.

The model name chooses the behaviour: ``ok`` answers ``server.reply`` (or echoes the user
message), ``slow`` waits ``server.delay`` seconds first, ``error`` answers HTTP 500 with an
OpenAI error body, ``hallucinate`` answers ``server.reply`` plus an invented price. Requests
are recorded (``server.requests``) so tests can check what was sent.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeLLM(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.reply: str | None = None
        self.delay = 3.0
        self.requests: list[dict[str, Any]] = []
        self.auth: list[str | None] = []
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def start(self) -> FakeLLM:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out closed the socket under a slow reply: expected


class _Handler(BaseHTTPRequestHandler):
    server: FakeLLM

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        request = json.loads(self.rfile.read(length))
        self.server.requests.append(request)
        self.server.auth.append(self.headers.get("authorization"))
        if self.path != "/v1/chat/completions":
            self._send(404, {"error": {"message": "not found", "type": "invalid_request_error"}})
            return
        model = request["model"]
        if model == "error":
            self._send(500, {"error": {"message": "boom", "type": "server_error"}})
            return
        if model == "slow":
            time.sleep(self.server.delay)
        user = next(m["content"] for m in request["messages"] if m["role"] == "user")
        content = self.server.reply if self.server.reply is not None else user
        if model == "hallucinate":
            content = f"{content} It costs only €19.99 today!"
        self._send(
            200,
            {
                "id": "chatcmpl-test",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
            },
        )
