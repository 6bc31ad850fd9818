"""Backends by name: one explicit dict, so the choices are readable in one place."""

from __future__ import annotations

from collections.abc import Callable

from coiassist.backends.base import Backend
from coiassist.config import Settings
from coiassist.errors import ConfigError


def _extractive(settings: Settings) -> Backend:
    # Imported on use so the LLM backends load without the extractive backend's dependencies.
    from coiassist.backends.extractive import ExtractiveBackend

    return ExtractiveBackend(settings)


def _openai(settings: Settings) -> Backend:
    from coiassist.backends.openai import OpenAIBackend

    return OpenAIBackend(settings)


def _ollama(settings: Settings) -> Backend:
    from coiassist.backends.ollama import OllamaBackend

    return OllamaBackend(settings)


BACKENDS: dict[str, Callable[[Settings], Backend]] = {
    "extractive": _extractive,
    "openai": _openai,
    "ollama": _ollama,
}


def create_backend(name: str, settings: Settings) -> Backend:
    """The backend called `name`; an unknown name is a ConfigError that lists the known ones."""
    factory = BACKENDS.get(name.strip().lower())
    if factory is None:
        raise ConfigError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    return factory(settings)


def backend_statuses(settings: Settings) -> list[tuple[str, list[str]]]:
    """(name, what is missing) for every backend; an empty list means ready to use."""
    return [(name, create_backend(name, settings).check()) for name in BACKENDS]
