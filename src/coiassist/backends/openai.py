"""Answers from any OpenAI-compatible chat server (OpenAI, vLLM, llama.cpp, LM Studio, Ollama's /v1).

Set `llm_base_url` to the part before `/chat/completions` (e.g. http://127.0.0.1:8000/v1) and
`llm_api_key_env` to the name of the variable holding the key, if the server wants one.

Azure OpenAI: use the v1 API, `llm_base_url = https://RESOURCE.openai.azure.com/openai/v1` and
the deployment name as `llm_model`. For hosts under `.azure.com` the key goes in Azure's `api-key`
header instead of `Authorization: Bearer`; an older deployment URL with `?api-version=` also works,
because the query is kept when `/chat/completions` is appended.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from typing import Any

import httpx

from coiassist.backends.base import GenerationRequest
from coiassist.backends.http import StreamingPoster, join_url
from coiassist.config import Settings
from coiassist.errors import BackendResponseError, BackendUnavailable

log = logging.getLogger(__name__)


def auth_headers(base_url: str, key: str) -> dict[str, str]:
    """The header that carries `key` for this server; none when there is no key."""
    if not key:
        return {}
    host = httpx.URL(base_url).host
    if host.endswith(".azure.com"):
        return {"api-key": key}
    return {"Authorization": f"Bearer {key}"}


def sse_events(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    """(event name, data) per server-sent event; data lines of one event are joined with newlines."""
    event, data = "", list[str]()
    for line in lines:
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = "", list[str]()
            continue
        if line.startswith(":"):
            continue  # a comment, used by some servers as a keep-alive
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
    if data:
        yield event, "\n".join(data)


class OpenAIBackend:
    """Streams `/chat/completions` with temperature 0; yields the content deltas."""

    name = "openai"

    def __init__(self, settings: Settings, *, transport: httpx.BaseTransport | None = None) -> None:
        self.settings = settings
        self._poster = StreamingPoster(settings, transport=transport)

    def _key(self) -> str:
        env = self.settings.llm_api_key_env
        return os.environ.get(env, "").strip() if env else ""

    def check(self) -> list[str]:
        s = self.settings
        missing = []
        if not s.llm_base_url:
            missing.append("llm_base_url (e.g. http://127.0.0.1:8000/v1)")
        elif not s.llm_base_url.startswith(("http://", "https://")):
            missing.append(f"an http(s) llm_base_url (got {s.llm_base_url!r})")
        if not s.llm_model:
            missing.append("llm_model")
        if s.llm_api_key_env and not self._key():
            missing.append(f"a value in the environment variable {s.llm_api_key_env} (the API key)")
        return missing

    def generate(self, request: GenerationRequest) -> Iterator[str]:
        missing = self.check()
        if missing:
            raise BackendUnavailable("the openai backend needs " + "; ".join(missing))
        s = self.settings
        payload: dict[str, Any] = {
            "model": s.llm_model,
            "messages": list(request.messages),
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": s.llm_max_tokens,
            "temperature": 0,
        }
        headers = {"Accept": "text/event-stream", **auth_headers(s.llm_base_url, self._key())}
        url = join_url(s.llm_base_url, "chat/completions")
        finished = False
        lines = self._poster.post_lines(url, payload, headers)
        try:
            for event, data in sse_events(lines):
                if data.strip() == "[DONE]":
                    finished = True
                    break
                chunk = _parse(data)
                if event == "error" or "error" in chunk:
                    raise BackendResponseError(
                        "the server reported an error mid-answer: " + _error_text(chunk.get("error", chunk))
                    )
                for choice in chunk.get("choices") or ():
                    content = (choice.get("delta") or {}).get("content")
                    if content:
                        yield content
                    if choice.get("finish_reason"):
                        finished = True
                        if choice["finish_reason"] == "length":
                            log.info("the answer reached llm_max_tokens (%d)", s.llm_max_tokens)
                if chunk.get("usage"):
                    log.debug("token usage: %s", chunk["usage"])
        finally:
            lines.close()
        if not finished:
            raise BackendResponseError("the server ended the stream before the answer was finished")


def _parse(data: str) -> dict[str, Any]:
    try:
        chunk = json.loads(data)
    except ValueError:
        raise BackendResponseError(f"the server sent malformed data: {data[:120]!r}") from None
    if not isinstance(chunk, dict):
        raise BackendResponseError(f"the server sent unexpected data: {data[:120]!r}")
    return chunk


def _error_text(error: object) -> str:
    if isinstance(error, dict):
        return str(error.get("message") or error.get("code") or error)[:300]
    return str(error)[:300]
