"""Shared parts of the reliability tests: a varied da/nb/nn corpus, CLI runs in real processes.

Index runs that are killed on purpose come from a fork server that has already imported torch,
sentence-transformers and Chroma, so twenty runs do not pay twenty cold imports (~7 s each on two
cores); each run is still a separate process running the real CLI, killed with SIGKILL.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SMALL_CHUNKS = {"COIASSIST_CHUNK_TOKENS": "40", "COIASSIST_CHUNK_OVERLAP_TOKENS": "10"}

_SYLLABLES = [
    "ra",
    "ven",
    "sko",
    "lund",
    "mar",
    "by",
    "holt",
    "ka",
    "sø",
    "dal",
    "vik",
    "tor",
    "ne",
    "ås",
    "li",
]
_KOMMUNER = ["Aarhus", "Odense", "Vejle", "Herning", "Bergen", "Trondheim", "Bodø", "Volda", "Asker", "Skive"]
_TEMAER = {
    "da": ["velfærdsteknologi", "borgerinddragelse", "tillidsbaseret ledelse", "digital post", "ældrepleje"],
    "nb": ["velferdsteknologi", "innbyggerdialog", "tillitsreform", "digitale tjenester", "eldreomsorg"],
    "nn": ["velferdsteknologi", "innbyggjardialog", "tillitsreform", "digitale tenester", "eldreomsorg"],
}
_SENTENCES = {
    "da": [
        "Projektet {navn} i {kommune} handler om {tema}.",
        "Kommunen brugte {tal} millioner kroner på forsøget med {tema}.",
        "Medarbejderne i {kommune} fik uddannelse i de nye arbejdsgange.",
        "Evalueringen af {navn} viste, at {tal} procent af borgerne var tilfredse.",
        "Ledelsen mener, at {tema} kræver rum til at eksperimentere.",
        "Borgerne blev inddraget tidligt, og de kom med mange forslag.",
        "Næste skridt er at udbrede {navn} til flere kommuner i regionen.",
    ],
    "nb": [
        "Prosjektet {navn} i {kommune} handler om {tema}.",
        "Kommunen brukte {tal} millioner kroner på forsøket med {tema}.",
        "De ansatte i {kommune} fikk opplæring i de nye arbeidsmåtene.",
        "Evalueringen av {navn} viste at {tal} prosent av innbyggerne var fornøyde.",
        "Ledelsen mener at {tema} krever rom for å prøve og feile.",
        "Innbyggerne ble tatt med tidlig, og de kom med mange forslag.",
        "Neste steg er å spre {navn} til flere kommuner i fylket.",
    ],
    "nn": [
        "Prosjektet {navn} i {kommune} handlar om {tema}.",
        "Kommunen brukte {tal} millionar kroner på forsøket med {tema}.",
        "Dei tilsette i {kommune} fekk opplæring i dei nye arbeidsmåtane.",
        "Evalueringa av {navn} viste at {tal} prosent av innbyggjarane var nøgde.",
        "Leiinga meiner at {tema} krev rom for å prøve og feile.",
        "Innbyggjarane vart tekne med tidleg, og dei kom med mange framlegg.",
        "Neste steg er å spreie {navn} til fleire kommunar i fylket.",
    ],
}
_TITLES = {
    "da": "Projekt {navn} i {kommune}",
    "nb": "Prosjekt {navn} i {kommune}",
    "nn": "Prosjekt {navn} i {kommune}",
}
LANGS = ("da", "nb", "nn")


def code_name(i: int) -> str:
    """A made-up project name unique to article `i`: the word only that article contains."""
    a, b, c = i % 15, (i // 15) % 15, (i // 225) % 15
    return (_SYLLABLES[a] + _SYLLABLES[b] + _SYLLABLES[c]).capitalize()


def article(i: int, version: int = 0) -> tuple[str, str, str]:
    """(file name, text, language) of article `i`; another `version` changes its text."""
    lang = LANGS[i % 3]
    rng = random.Random(i * 1000 + version)
    fields = {
        "navn": code_name(i),
        "kommune": _KOMMUNER[i % len(_KOMMUNER)],
        "tema": _TEMAER[lang][(i // 3) % len(_TEMAER[lang])],
        "tal": str(rng.randint(2, 97)),
    }
    sentences = _SENTENCES[lang][:]
    rng.shuffle(sentences)
    body = " ".join(s.format(**fields) for s in [_SENTENCES[lang][0], *sentences[: rng.randint(2, 6)]])
    if version:
        body += f" Opdatering {version}: {fields['navn']} fortsætter i {fields['kommune']}."
    text = _TITLES[lang].format(**fields) + "\n\n" + body + "\n"
    folder = ("nyheder/", "analyser/", "")[i % 3]
    return f"{folder}artikel-{i:04d}.txt", text, lang


def write_articles(corpus: Path, numbers: range | list[int], version: int = 0) -> None:
    for i in numbers:
        name, text, _ = article(i, version)
        path = corpus / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def cli_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a CLI run: this home, small chunks, no config file from the cwd."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COIASSIST_")}
    env.update(SMALL_CHUNKS)
    env["COIASSIST_HOME"] = str(home)
    env["COIASSIST_CONFIG"] = str(REPO / "tests" / "reliability" / "empty.toml")
    env["GRADIO_ANALYTICS_ENABLED"] = "False"
    env["PYTHONPATH"] = str(REPO / "src")
    env.update(extra or {})
    return env


def run_cli(
    args: list[str], env: Mapping[str, str], timeout: float = 240, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """`python -m coiassist ARGS` in a fresh process; output captured as text."""
    Path(env["COIASSIST_HOME"]).mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "coiassist", *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=kwargs.pop("cwd", None) or env.get("COIASSIST_HOME", "/"),
        **kwargs,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    """A failed CLI run said what went wrong in one `error:` line, with no traceback."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


def _cli_in_child(args: list[str], env: dict[str, str], log: str) -> None:
    """Run in a forked child: the real CLI with this environment, output to a log file."""
    os.environ.clear()
    os.environ.update(env)
    with open(log, "a", encoding="utf-8") as out:
        os.dup2(out.fileno(), 1)
        os.dup2(out.fileno(), 2)
        from coiassist.cli import main

        sys.exit(main(args))


class WarmRunner:
    """Starts CLI runs as children of a fork server that has the heavy libraries imported."""

    def __init__(self) -> None:
        self.ctx = multiprocessing.get_context("forkserver")
        self.ctx.set_forkserver_preload(
            [
                "torch",
                "sentence_transformers",
                "chromadb",
                "coiassist.cli",
                "coiassist.indexer",
                "tests.reliability.helpers",
            ]
        )

    def start(self, args: list[str], env: dict[str, str], log: Path) -> Any:
        proc = self.ctx.Process(target=_cli_in_child, args=(args, env, str(log)), daemon=False)
        proc.start()
        return proc


def wait_until(predicate: Any, timeout: float, every: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return bool(predicate())


@contextlib.contextmanager
def timed(figures: dict[str, float], name: str) -> Iterator[None]:
    started = time.monotonic()
    yield
    figures[name] = round(time.monotonic() - started, 2)


def wait_for_http(
    url: str, server: subprocess.Popen[Any], log: Path | None = None, timeout: float = 180
) -> None:
    """Until `url` answers 200; fails (showing the server's `log`) when it exits or time runs out."""
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert server.poll() is None and time.monotonic() < deadline, (
            log.read_text() if log else "the server did not start"
        )
        time.sleep(0.5)
