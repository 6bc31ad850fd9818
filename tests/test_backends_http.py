"""The OpenAI-compatible and Ollama backends against a real scripted server on 127.0.0.1."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

from coiassist.backends.base import GenerationRequest, Source
from coiassist.backends.http import join_url
from coiassist.backends.ollama import OllamaBackend
from coiassist.backends.openai import OpenAIBackend, auth_headers
from coiassist.backends.registry import BACKENDS, backend_statuses, create_backend
from coiassist.config import Settings
from coiassist.errors import BackendResponseError, BackendTimeout, BackendUnavailable, ConfigError
from tests.llm_server import (
    LLMServer,
    Reply,
    closed_port_url,
    json_error,
    ollama_stream,
    openai_deltas,
    openai_stream,
    split_every,
    sse,
)

MESSAGES = (
    {"role": "system", "content": "Svar kun ud fra kilderne."},
    {"role": "user", "content": "Hvad koster forsøget i Aarhus?"},
)
REQUEST = GenerationRequest(
    question="Hvad koster forsøget i Aarhus?",
    language="da",
    sources=(Source(key=1, title="Velfærd", text="Forsøget kostede 12 millioner kroner."),),
    messages=MESSAGES,
)
ANSWER = ["Forsøget ", "kostede ", "12 millioner kroner ", "[1]. ", "Blåbærgrød, æøå ÆØÅ 🙂"]
KEY_ENV = "COIASSIST_TEST_LLM_KEY"
KEY = "sk-test-secret-4711"


@pytest.fixture
def server() -> Iterator[LLMServer]:
    with LLMServer() as running:
        yield running


@pytest.fixture
def llm_settings(server: LLMServer) -> Callable[..., Settings]:
    """Settings aimed at the scripted server with short timeouts; keyword arguments override."""

    def make(**overrides: object) -> Settings:
        base = Settings(
            llm_base_url=server.url + "/v1",
            llm_model="test-model",
            llm_connect_timeout=1.0,
            llm_read_timeout=0.5,
            llm_deadline=5.0,
            llm_retries=2,
            llm_max_tokens=123,
        )
        return replace(base, **overrides)  # type: ignore[arg-type]

    return make


def collect(pieces: Iterator[str], into: list[str]) -> str:
    """Consume a stream, keeping what arrived before any error in `into`."""
    for piece in pieces:
        into.append(piece)
    return "".join(into)


# --- OpenAI-compatible ---------------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 3, 7])
def test_openai_stream_survives_any_split_of_bytes(server: LLMServer, llm_settings, size: int) -> None:
    # Splitting every 1, 3 or 7 bytes cuts "data:", JSON, line ends and æøå/emoji bytes apart.
    server.script(Reply(chunks=split_every(openai_stream(ANSWER), size)))
    text = "".join(OpenAIBackend(llm_settings()).generate(REQUEST))
    assert text == "".join(ANSWER)


def test_openai_request_carries_model_messages_and_stream_flags(server: LLMServer, llm_settings) -> None:
    server.script(Reply(chunks=[openai_stream(["Hej"])]))
    assert list(OpenAIBackend(llm_settings()).generate(REQUEST)) == ["Hej"]
    [request] = server.requests
    assert request.path == "/v1/chat/completions"
    assert request.body == {
        "model": "test-model",
        "messages": list(MESSAGES),
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": 123,
        "temperature": 0,
    }
    assert "authorization" not in request.headers
    assert "api-key" not in request.headers


def test_openai_sends_key_only_when_its_variable_has_a_value(
    server: LLMServer, llm_settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    server.script(Reply(chunks=[openai_stream(["Hej"])]), Reply(chunks=[openai_stream(["Hej"])]))
    list(OpenAIBackend(llm_settings(llm_api_key_env=KEY_ENV)).generate(REQUEST))
    list(OpenAIBackend(llm_settings()).generate(REQUEST))
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert "authorization" not in server.requests[1].headers


def test_openai_check_names_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    missing = OpenAIBackend(Settings(llm_api_key_env=KEY_ENV)).check()
    assert any("llm_base_url" in m for m in missing)
    assert any("llm_model" in m for m in missing)
    assert any(KEY_ENV in m for m in missing)
    monkeypatch.setenv(KEY_ENV, KEY)
    ready = Settings(llm_base_url="http://127.0.0.1:1/v1", llm_model="m", llm_api_key_env=KEY_ENV)
    assert OpenAIBackend(ready).check() == []


def test_openai_refuses_to_generate_when_not_configured() -> None:
    with pytest.raises(BackendUnavailable, match="llm_model"):
        list(OpenAIBackend(Settings(llm_base_url="http://127.0.0.1:1/v1")).generate(REQUEST))


def test_refused_key_is_not_retried_and_not_revealed(
    server: LLMServer, llm_settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    server.script(json_error(401, {"error": {"message": f"Incorrect API key provided: {KEY}"}}))
    with pytest.raises(BackendUnavailable, match="refused the key") as caught:
        list(OpenAIBackend(llm_settings(llm_api_key_env=KEY_ENV)).generate(REQUEST))
    assert "Incorrect API key provided" in str(caught.value)
    assert KEY not in str(caught.value)
    assert len(server.requests) == 1


@pytest.mark.parametrize(("headers", "wait"), [({"Retry-After": "1"}, 1.0), ({"retry-after-ms": "300"}, 0.3)])
def test_rate_limit_waits_as_asked_then_retries(
    server: LLMServer, llm_settings, headers: dict[str, str], wait: float
) -> None:
    server.script(
        json_error(429, {"error": {"message": "Rate limit reached"}}, headers),
        Reply(chunks=[openai_stream(["Hej"])]),
    )
    assert "".join(OpenAIBackend(llm_settings()).generate(REQUEST)) == "Hej"
    first, second = server.requests
    assert wait <= second.at - first.at < wait + 0.8


def test_retry_after_past_the_deadline_fails_at_once(server: LLMServer, llm_settings) -> None:
    server.script(json_error(429, {"error": {"message": "slow down"}}, {"Retry-After": "30"}))
    started = time.monotonic()
    with pytest.raises(BackendTimeout, match="deadline"):
        list(OpenAIBackend(llm_settings(llm_deadline=2.0)).generate(REQUEST))
    assert time.monotonic() - started < 1.0
    assert len(server.requests) == 1


def test_server_error_is_retried_before_the_first_token(server: LLMServer, llm_settings) -> None:
    server.script(json_error(500, {"error": {"message": "boom"}}), Reply(chunks=[openai_stream(["Hej"])]))
    assert "".join(OpenAIBackend(llm_settings()).generate(REQUEST)) == "Hej"
    assert len(server.requests) == 2


def test_server_errors_give_up_after_the_configured_retries(server: LLMServer, llm_settings) -> None:
    server.script(*(json_error(503, {"error": {"message": "overloaded"}}) for _ in range(3)))
    with pytest.raises(BackendUnavailable, match="overloaded"):
        list(OpenAIBackend(llm_settings(llm_retries=1)).generate(REQUEST))
    assert len(server.requests) == 2


def test_unreachable_server_is_unavailable(llm_settings) -> None:
    settings = llm_settings(llm_base_url=closed_port_url() + "/v1", llm_retries=0)
    with pytest.raises(BackendUnavailable, match="cannot reach"):
        list(OpenAIBackend(settings).generate(REQUEST))


def test_stall_mid_answer_times_out_without_retry(server: LLMServer, llm_settings) -> None:
    server.script(Reply(chunks=[openai_deltas(["Forsøget ", "kostede"])], stall=3.0))
    received: list[str] = []
    started = time.monotonic()
    with pytest.raises(BackendTimeout, match="cut off"):
        collect(OpenAIBackend(llm_settings()).generate(REQUEST), received)
    assert time.monotonic() - started < 1.5
    assert received == ["Forsøget ", "kostede"]
    assert len(server.requests) == 1


def test_silent_server_times_out_at_the_read_timeout(server: LLMServer, llm_settings) -> None:
    server.script(Reply(before=3.0, chunks=[openai_stream(["late"])]))
    started = time.monotonic()
    with pytest.raises(BackendTimeout):
        list(OpenAIBackend(llm_settings()).generate(REQUEST))
    assert time.monotonic() - started < 1.5


def test_deadline_stops_a_stream_that_never_ends(server: LLMServer, llm_settings) -> None:
    # A token every 0.2 s never trips the 0.5 s read timeout; the 1 s deadline must.
    server.script(Reply(chunks=[openai_deltas(["ord "])] * 50, between=0.2))
    received: list[str] = []
    started = time.monotonic()
    with pytest.raises(BackendTimeout, match="longer than 1 s"):
        collect(OpenAIBackend(llm_settings(llm_deadline=1.0)).generate(REQUEST), received)
    assert 1.0 <= time.monotonic() - started < 2.0
    assert 2 <= len(received) <= 6


def test_malformed_json_is_a_response_error(server: LLMServer, llm_settings) -> None:
    server.script(Reply(chunks=[openai_deltas(["Hej"]), b'data: {"choices": [{"delta": \n\n']))
    received: list[str] = []
    with pytest.raises(BackendResponseError, match="malformed"):
        collect(OpenAIBackend(llm_settings()).generate(REQUEST), received)
    assert received == ["Hej"]


def test_error_inside_the_stream_is_reported(server: LLMServer, llm_settings) -> None:
    error = {"error": {"message": "The model crashed", "type": "server_error"}}
    server.script(Reply(chunks=[openai_deltas(["Hej"]), sse(error)]))
    received: list[str] = []
    with pytest.raises(BackendResponseError, match="The model crashed"):
        collect(OpenAIBackend(llm_settings()).generate(REQUEST), received)
    assert received == ["Hej"]
    assert len(server.requests) == 1


def test_dropped_connection_mid_answer_says_the_answer_was_cut_off(server: LLMServer, llm_settings) -> None:
    server.script(Reply(chunks=[openai_deltas(["Forsøget ", "kos"])], drop=True))
    received: list[str] = []
    with pytest.raises(BackendResponseError, match="cut off"):
        collect(OpenAIBackend(llm_settings()).generate(REQUEST), received)
    assert received == ["Forsøget ", "kos"]
    assert len(server.requests) == 1


def test_stream_without_an_end_is_incomplete(server: LLMServer, llm_settings) -> None:
    server.script(Reply(chunks=[openai_deltas(["Forsøget"])]))
    with pytest.raises(BackendResponseError, match="before the answer was finished"):
        list(OpenAIBackend(llm_settings()).generate(REQUEST))


def test_stopping_early_closes_the_connection(server: LLMServer, llm_settings) -> None:
    server.script(Reply(chunks=[openai_deltas(["ord "])] * 100, between=0.05))
    stream = OpenAIBackend(llm_settings()).generate(REQUEST)
    assert next(stream) == "ord "
    stream.close()  # what the chat does when the user presses Stop
    assert server.aborted.wait(3.0)


def test_azure_hosts_get_the_key_in_api_key_header() -> None:
    assert auth_headers("https://coi.openai.azure.com/openai/v1", "k") == {"api-key": "k"}
    assert auth_headers("https://api.openai.com/v1", "k") == {"Authorization": "Bearer k"}
    assert auth_headers("https://api.openai.com/v1", "") == {}


def test_url_join_keeps_the_query() -> None:
    base = "https://coi.openai.azure.com/openai/deployments/gpt/"
    url = join_url(base + "?api-version=2024-10-21", "chat/completions")
    assert str(url) == base + "chat/completions?api-version=2024-10-21"


# --- Ollama native ------------------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 5])
def test_ollama_stream_survives_any_split_of_bytes(server: LLMServer, llm_settings, size: int) -> None:
    server.script(Reply(chunks=split_every(ollama_stream(ANSWER), size), content_type="application/x-ndjson"))
    assert "".join(OllamaBackend(llm_settings()).generate(REQUEST)) == "".join(ANSWER)


def test_ollama_request_uses_the_native_chat_api(server: LLMServer, llm_settings) -> None:
    # A base URL ending in /v1 (the OpenAI-compatible path) still reaches /api/chat.
    server.script(Reply(chunks=[ollama_stream(["Hej"])]))
    assert list(OllamaBackend(llm_settings()).generate(REQUEST)) == ["Hej"]
    [request] = server.requests
    assert request.path == "/api/chat"
    assert request.body == {
        "model": "test-model",
        "messages": list(MESSAGES),
        "stream": True,
        "options": {"temperature": 0, "num_predict": 123},
    }
    assert "authorization" not in request.headers


def test_ollama_error_line_mid_stream_is_reported(server: LLMServer, llm_settings) -> None:
    server.script(Reply(chunks=[ollama_stream(["Hej"], done=False), b'{"error":"out of memory"}\n']))
    received: list[str] = []
    with pytest.raises(BackendResponseError, match="out of memory"):
        collect(OllamaBackend(llm_settings()).generate(REQUEST), received)
    assert received == ["Hej"]


def test_ollama_missing_model_says_so(server: LLMServer, llm_settings) -> None:
    server.script(json_error(404, {"error": "model 'test-model' not found"}))
    with pytest.raises(BackendUnavailable, match="model 'test-model' not found"):
        list(OllamaBackend(llm_settings()).generate(REQUEST))
    assert len(server.requests) == 1


def test_ollama_server_error_is_retried(server: LLMServer, llm_settings) -> None:
    server.script(json_error(502, {"error": "loading model"}), Reply(chunks=[ollama_stream(["Hej"])]))
    assert "".join(OllamaBackend(llm_settings()).generate(REQUEST)) == "Hej"
    assert len(server.requests) == 2


def test_ollama_stream_without_done_is_incomplete(server: LLMServer, llm_settings) -> None:
    server.script(Reply(chunks=[ollama_stream(["Hej"], done=False)]))
    with pytest.raises(BackendResponseError, match="before the answer was finished"):
        list(OllamaBackend(llm_settings()).generate(REQUEST))


def test_ollama_malformed_line_is_a_response_error(server: LLMServer, llm_settings) -> None:
    server.script(Reply(chunks=[b'{"message": {"content": "Hej"}, "done": fal\n']))
    with pytest.raises(BackendResponseError, match="malformed"):
        list(OllamaBackend(llm_settings()).generate(REQUEST))


def test_ollama_defaults_to_its_local_address() -> None:
    backend = OllamaBackend(Settings(llm_model="llama3.2"))
    assert backend.base_url == "http://127.0.0.1:11434"
    assert backend.check() == []
    assert any("llm_model" in m for m in OllamaBackend(Settings()).check())


# --- registry -----------------------------------------------------------------------------


def test_unknown_backend_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        create_backend("gpt5", Settings())
    for name in BACKENDS:
        assert name in str(caught.value)


def test_registry_builds_each_llm_backend_by_name() -> None:
    assert isinstance(create_backend("openai", Settings()), OpenAIBackend)
    assert isinstance(create_backend("Ollama", Settings()), OllamaBackend)


def test_backend_statuses_report_what_each_backend_needs() -> None:
    statuses = dict(backend_statuses(Settings()))
    assert set(statuses) == set(BACKENDS)
    assert statuses["extractive"] == []
    assert any("llm_model" in m for m in statuses["openai"])
