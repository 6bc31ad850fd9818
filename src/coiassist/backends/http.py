"""Streaming POST for the LLM backends: timeouts, one overall deadline, retries before the first byte.

This is the only backend module that imports httpx, so a move to its successor touches one file.
Retries happen only while no part of the answer has been read (429, 408, 5xx, connection errors);
once the server has sent status 200 the stream is never retried, because the user may already
see the first words. The deadline covers the retries, the waits and the whole stream: it caps the
read timeout of each attempt and is checked between lines.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import ssl
import time
from collections.abc import Generator, Iterable, Iterator, Mapping
from functools import cache
from typing import Any

import httpx

from coiassist.config import Settings
from coiassist.errors import BackendResponseError, BackendTimeout, BackendUnavailable

log = logging.getLogger(__name__)

BACKOFF_START = 0.5  # seconds before the first retry; doubles each time
BACKOFF_MAX = 8.0
RETRY_AFTER_MAX = 60.0  # a longer Retry-After is not worth waiting for in a chat
ERROR_BODY_BYTES = 16_384  # enough for any error JSON; a huge HTML page is cut here
RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})


def join_url(base_url: str, path: str) -> httpx.URL:
    """`base_url` + `/path`, keeping any query (e.g. Azure's `?api-version=`)."""
    url = httpx.URL(base_url)
    return url.copy_with(path=url.path.rstrip("/") + "/" + path.lstrip("/"))


def public_url(url: httpx.URL) -> str:
    """The URL without query or user info, safe to show in messages."""
    return str(url.copy_with(query=None, fragment=None, username=None, password=None))


def retry_delay(response: httpx.Response, attempt: int) -> float:
    """Seconds to wait before retry `attempt` (0-based): the server's wish, else backoff with jitter."""
    headers = response.headers
    if "retry-after-ms" in headers:
        try:
            return min(max(float(headers["retry-after-ms"]) / 1000, 0.0), RETRY_AFTER_MAX)
        except ValueError:
            pass
    if "retry-after" in headers:
        value = headers["retry-after"].strip()
        try:
            return min(max(float(value), 0.0), RETRY_AFTER_MAX)
        except ValueError:
            moment = email.utils.parsedate_to_datetime(value) if value else None
            if moment is not None and moment.tzinfo is not None:
                return min(max(moment.timestamp() - time.time(), 0.0), RETRY_AFTER_MAX)
    return backoff(attempt)


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with header values (the API key among them) masked, should a server echo one."""
    for secret in secrets:
        for part in secret.split():
            if len(part) >= 8:
                text = text.replace(part, "***")
    return text


def describe(exc: Exception) -> str:
    return str(exc) or type(exc).__name__


def backoff(attempt: int) -> float:
    # Jitter spreads the retries of several users who hit the same overloaded server.
    return min(BACKOFF_START * 2**attempt, BACKOFF_MAX) * (1 - 0.25 * random.random())


def error_message(body: bytes) -> str:
    """The server's own words from an error body: OpenAI, Ollama or plain text."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return " ".join(text.split())[:300]
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        error = error.get("message") or error.get("code") or error
    if error is None and isinstance(data, dict):
        error = data.get("message") or data.get("detail")
    return " ".join(str(error if error is not None else text).split())[:300]


def _read_timeout(request: httpx.Request) -> float:
    """The read timeout this request ran with (the deadline may have shortened the setting)."""
    return float(request.extensions.get("timeout", {}).get("read") or 0)


@cache
def _tls_context() -> ssl.SSLContext:
    # httpx builds a fresh context (about 0.1 s of certificate loading) per client; share one.
    return httpx.create_ssl_context()


class StreamingPoster:
    """Posts JSON and yields the response body line by line, within the settings' time limits.

    `transport` is httpx's, to be swapped in instead of patching (e.g. a proxy or a mock).
    """

    def __init__(self, settings: Settings, *, transport: httpx.BaseTransport | None = None) -> None:
        self.settings = settings
        self._client = httpx.Client(transport=transport, verify=_tls_context(), follow_redirects=False)

    def _timeout(self, remaining: float) -> httpx.Timeout:
        s = self.settings
        return httpx.Timeout(
            connect=min(s.llm_connect_timeout, remaining),
            read=min(s.llm_read_timeout, remaining),
            write=min(10.0, remaining),
            pool=min(5.0, remaining),
        )

    def post_lines(
        self, url: httpx.URL, payload: Mapping[str, Any], headers: Mapping[str, str]
    ) -> Generator[str, None, None]:
        """Yield the body's lines (decoded, without line endings); raise BackendError subclasses.

        The deadline starts when iteration starts. Closing the iterator closes the connection.
        """
        deadline = time.monotonic() + self.settings.llm_deadline
        response = self._open(url, payload, headers, deadline)
        try:
            yield from self._lines(response, url, deadline)
        finally:
            response.close()

    def _open(
        self, url: httpx.URL, payload: Mapping[str, Any], headers: Mapping[str, str], deadline: float
    ) -> httpx.Response:
        where = public_url(url)
        attempts = self.settings.llm_retries + 1
        for attempt in range(attempts):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BackendTimeout(f"{where} gave no answer within {self.settings.llm_deadline:g} s")
            last = attempt == attempts - 1
            request = self._client.build_request(
                "POST", url, json=payload, headers=dict(headers), timeout=self._timeout(remaining)
            )
            try:
                response = self._client.send(request, stream=True)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError) as exc:
                # Nothing was read yet, so a fresh connection is safe to try.
                if last:
                    raise BackendUnavailable(f"cannot reach {where}: {describe(exc)}") from None
                self._wait(backoff(attempt), deadline, f"{type(exc).__name__} from {where}", attempt)
                continue
            except httpx.TimeoutException:
                waited = _read_timeout(request)
                raise BackendTimeout(f"{where} did not start answering within {waited:g} s") from None
            except httpx.TransportError as exc:
                raise BackendUnavailable(f"cannot talk to {where}: {describe(exc)}") from None

            if response.status_code == 200:
                return response
            body = self._error_body(response)
            status = response.status_code
            message = redact(error_message(body), headers.values())
            if status in (401, 403):
                raise BackendUnavailable(
                    f"the server refused the key (HTTP {status}): {message}; "
                    "check llm_api_key_env and the key it names"
                )
            if status in RETRY_STATUSES and not last:
                self._wait(retry_delay(response, attempt), deadline, f"HTTP {status} from {where}", attempt)
                continue
            if status == 429:
                raise BackendUnavailable(f"{where} is rate limiting us (HTTP 429): {message}")
            if status == 404:
                raise BackendUnavailable(f"{where} answered 404: {message}; check llm_base_url and llm_model")
            if status >= 500:
                raise BackendUnavailable(f"{where} failed (HTTP {status}): {message}")
            raise BackendResponseError(f"{where} refused the request (HTTP {status}): {message}")
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _error_body(self, response: httpx.Response) -> bytes:
        body = b""
        try:
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) >= ERROR_BODY_BYTES:
                    break
        except httpx.HTTPError:
            pass  # the status already says what went wrong; the body is a bonus
        finally:
            response.close()
        return body[:ERROR_BODY_BYTES]

    def _wait(self, delay: float, deadline: float, why: str, attempt: int) -> None:
        if time.monotonic() + delay >= deadline:
            limit = self.settings.llm_deadline
            raise BackendTimeout(f"{why}: waiting {delay:.1f} s to retry would pass the {limit:g} s deadline")
        log.info("%s; retry %d of %d in %.2f s", why, attempt + 1, self.settings.llm_retries, delay)
        time.sleep(delay)

    def _lines(self, response: httpx.Response, url: httpx.URL, deadline: float) -> Iterator[str]:
        where = public_url(url)
        try:
            for line in response.iter_lines():
                if time.monotonic() > deadline:
                    raise BackendTimeout(
                        f"{where} took longer than {self.settings.llm_deadline:g} s; the answer was cut off"
                    )
                yield line
        except httpx.TimeoutException:
            waited = _read_timeout(response.request)
            raise BackendTimeout(f"{where} went silent for {waited:g} s; the answer was cut off") from None
        except httpx.TransportError as exc:
            raise BackendResponseError(
                f"the connection to {where} dropped mid-answer ({type(exc).__name__}); the answer was cut off"
            ) from None
