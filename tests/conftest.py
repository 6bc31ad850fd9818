"""Shared fixtures: a small real da/nb/nn corpus, settings in a temporary home, the real model."""

from __future__ import annotations

import dataclasses
import os
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from coiassist.config import Settings, load_settings  # noqa: E402
from coiassist.embeddings import Embedder, load_embedder  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

# Small real articles in the three languages; several sentences each so they make 2+ chunks
# at a small chunk size.
ARTICLES = {
    "velfaerd.txt": (
        "Velfærdsinnovation i kommunerne\n\n"
        "Kommunerne arbejder med velfærdsinnovation for at løse de store udfordringer. "
        "Der bliver flere ældre og færre hænder i sundhedsvæsenet. "
        "Derfor tester mange kommuner nye teknologier som skærmbesøg og robotstøvsugere. "
        "I Aarhus Kommune har man brugt 12 millioner kroner på et forsøg med velfærdsteknologi. "
        "Borgerne blev inddraget fra begyndelsen, og medarbejderne fik uddannelse i de nye løsninger. "
        "Evalueringen viste, at 80 procent af borgerne var tilfredse med forsøget.\n"
    ),
    "tillid.md": (
        "---\ntitle: Tillidsreform i Norge\nlang: nb\ndate: 2021-05-04\n---\n"
        "Regjeringen vil innføre en tillitsreform i offentlig sektor. "
        "Målet er mindre detaljstyring og mer tillit til de ansatte. "
        "Asker kommune har testet modellen i tre år sammen med KS. "
        "Erfaringene viser at de ansatte får mer tid til innbyggerne. "
        "Kommunedirektøren sier at innovasjon krever rom for å feile.\n"
    ),
    "nynorsk.txt": (
        "Innovasjon i små kommunar\n\n"
        "Små kommunar har ikkje like mykje pengar til innovasjon som dei store byane. "
        "Likevel finn mange av dei nye måtar å samarbeide på. "
        "I Volda har kommunen og høgskulen laga eit felles senter for tenesteinnovasjon. "
        "Senteret har hjelpt over 40 prosjekt sidan det opna i 2019.\n"
    ),
}


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_corpus(folder: Path, articles: dict[str, str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in (articles or ARTICLES).items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real bundled model, loaded once for the whole session."""
    return load_embedder(Settings())


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings with a home and corpus inside tmp_path; keyword arguments override."""

    def make(**overrides: object) -> Settings:
        base = load_settings(config_file=tmp_path / "none.toml")
        values: dict[str, object] = {"home": tmp_path / "home", "corpus": tmp_path / "corpus"}
        values.update(overrides)
        return dataclasses.replace(base, **values)  # type: ignore[arg-type]

    return make


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "corpus")
