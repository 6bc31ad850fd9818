"""Answers from Ollama's native `/api/chat`, which streams one JSON object per line.

`llm_base_url` defaults to Ollama's own address; a trailing `/v1` (the OpenAI-compatible
path) is dropped, since the native API lives at the root.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx

from coiassist.backends.base import GenerationRequest
from coiassist.backends.http import StreamingPoster, join_url
from coiassist.config import Settings
from coiassist.errors import BackendResponseError, BackendUnavailable

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "http://127.0.0.1:11434"


class OllamaBackend:
    """Streams `/api/chat` with temperature 0; yields each line's message content."""

    name = "ollama"

    def __init__(self, settings: Settings, *, transport: httpx.BaseTransport | None = None) -> None:
        self.settings = settings
        self._poster = StreamingPoster(settings, transport=transport)

    @property
    def base_url(self) -> str:
        base = (self.settings.llm_base_url or DEFAULT_BASE_URL).rstrip("/")
        return base.removesuffix("/v1")

    def check(self) -> list[str]:
        missing = []
        if not self.base_url.startswith(("http://", "https://")):
            missing.append(f"an http(s) llm_base_url (got {self.settings.llm_base_url!r})")
        if not self.settings.llm_model:
            missing.append("llm_model (an installed Ollama model, e.g. from `ollama list`)")
        return missing

    def generate(self, request: GenerationRequest) -> Iterator[str]:
        missing = self.check()
        if missing:
            raise BackendUnavailable("the ollama backend needs " + "; ".join(missing))
        s = self.settings
        payload: dict[str, Any] = {
            "model": s.llm_model,
            "messages": list(request.messages),
            "stream": True,
            "options": {"temperature": 0, "num_predict": s.llm_max_tokens},
        }
        lines = self._poster.post_lines(join_url(self.base_url, "api/chat"), payload, {})
        finished = False
        try:
            for line in lines:
                if not line.strip():
                    continue
                try:
                    item = json.loads(line)
                except ValueError:
                    raise BackendResponseError(f"Ollama sent malformed data: {line[:120]!r}") from None
                if not isinstance(item, dict):
                    raise BackendResponseError(f"Ollama sent unexpected data: {line[:120]!r}")
                if "error" in item:
                    error = str(item["error"])[:300]
                    raise BackendResponseError(f"Ollama reported an error mid-answer: {error}")
                content = (item.get("message") or {}).get("content")
                if content:
                    yield content
                if item.get("done"):
                    finished = True
                    log.debug("ollama done: %s", item.get("done_reason", ""))
                    break
        finally:
            lines.close()
        if not finished:
            raise BackendResponseError("Ollama ended the stream before the answer was finished")
