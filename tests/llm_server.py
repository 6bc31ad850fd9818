"""A real HTTP server on 127.0.0.1 that plays scripted LLM replies, for tests of the LLM backends.

Each request takes the next scripted `Reply`: a status, headers, and body pieces written and
flushed one by one (so a test can split a line, or a UTF-8 character, between two TCP writes),
optionally followed by a stall or an abrupt close. Every request is recorded.

    with LLMServer() as server:
        server.script(Reply(chunks=openai_stream(["Hej", " verden"])))
        ... settings with llm_base_url=server.url + "/v1" ...
        server.requests[0].body["model"]
"""

from __future__ import annotations

import dataclasses
import json
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from coiassist.config import Settings


@dataclass
class Reply:
    """One scripted response. `chunks` are sent with chunked transfer encoding, one flush each."""

    status: int = 200
    chunks: Sequence[bytes] = ()
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/event-stream"
    before: float = 0.0  # seconds to wait before sending the status line
    between: float = 0.0  # seconds to wait between chunks
    stall: float = 0.0  # seconds to go silent after the chunks, before ending the body
    drop: bool = False  # close the connection after the chunks without ending the body


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]  # names in lower case
    body: Any  # the JSON the client posted
    at: float  # time.monotonic() when the request arrived


def sse(*payloads: Any) -> bytes:
    """Server-sent events, one `data:` line per payload (a str is sent as is, e.g. "[DONE]")."""
    return b"".join(
        b"data: " + (p if isinstance(p, str) else json.dumps(p, ensure_ascii=False)).encode() + b"\n\n"
        for p in payloads
    )


def openai_stream(pieces: Iterable[str], usage: bool = True, done: bool = True) -> bytes:
    """A whole OpenAI chat-completion stream: role, content deltas, finish, usage, [DONE]."""
    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "test-model"}
    events: list[Any] = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}]
    events += [{**base, "choices": [{"index": 0, "delta": {"content": p}}]} for p in pieces]
    events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    if usage:
        events.append({**base, "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 3}})
    if done:
        events.append("[DONE]")
    return sse(*events)


def openai_deltas(pieces: Iterable[str]) -> bytes:
    """Content deltas only: the start of a stream, without its end."""
    return sse(*({"choices": [{"index": 0, "delta": {"content": p}}]} for p in pieces))


def ollama_stream(pieces: Iterable[str], done: bool = True) -> bytes:
    """Ollama's /api/chat NDJSON: one message per line, then a done line."""
    lines = [
        {"model": "test-model", "message": {"role": "assistant", "content": p}, "done": False} for p in pieces
    ]
    if done:
        lines.append(
            {
                "model": "test-model",
                "message": {"role": "assistant", "content": ""},
                "done": True,
                "done_reason": "stop",
                "eval_count": 3,
            }
        )
    return b"".join(json.dumps(line, ensure_ascii=False).encode() + b"\n" for line in lines)


def split_every(data: bytes, size: int) -> list[bytes]:
    """`data` in pieces of `size` bytes: cuts lines, JSON and multibyte characters anywhere."""
    return [data[i : i + size] for i in range(0, len(data), size)]


def llm_settings(settings: Settings, server: LLMServer, **extra: Any) -> Settings:
    """`settings` with the openai backend pointed at `server`: short timeouts, no retries."""
    return dataclasses.replace(
        settings,
        backend="openai",
        llm_base_url=server.url + "/v1",
        llm_model="test-model",
        llm_read_timeout=1.0,
        llm_deadline=5.0,
        llm_retries=0,
        **extra,
    )


def json_error(status: int, body: Any, headers: dict[str, str] | None = None) -> Reply:
    return Reply(
        status=status,
        chunks=[json.dumps(body).encode()],
        headers=headers or {},
        content_type="application/json",
    )


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up (a test that stops reading) is expected, not a failure.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class LLMServer:
    """Scripted replies on 127.0.0.1 at a free port; a missing script answers 500."""

    def __init__(self) -> None:
        self._replies: deque[Reply] = deque()
        self.requests: list[Recorded] = []
        self.aborted = threading.Event()  # set when a client went away while we were writing
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._httpd = _QuietServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._replies.extend(replies)

    def start(self) -> LLMServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()  # wakes stalled handlers
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _next(self, recorded: Recorded) -> Reply:
        with self._lock:
            self.requests.append(recorded)
            if self._replies:
                return self._replies.popleft()
        return json_error(500, {"error": {"message": "no scripted reply left"}})

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # chunked transfer encoding needs 1.1

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib's name
                pass

            def do_POST(self) -> None:  # noqa: N802 - stdlib's name
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw
                reply = server._next(
                    Recorded(
                        self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.monotonic()
                    )
                )
                try:
                    self._play(reply)
                except (BrokenPipeError, ConnectionResetError):
                    server.aborted.set()
                    self.close_connection = True

            def _play(self, reply: Reply) -> None:
                if reply.before and server._stop.wait(reply.before):
                    return
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Transfer-Encoding", "chunked")
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                for index, chunk in enumerate(reply.chunks):
                    if index and reply.between and server._stop.wait(reply.between):
                        return
                    self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    self.wfile.flush()
                if reply.stall and server._stop.wait(reply.stall):
                    return
                if reply.drop:
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

        return Handler


def closed_port_url() -> str:
    """A loopback URL nobody listens on: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
