"""The fixed wording around an answer, per language (da, nb, nn).

The extractive backend, the assistant and the UI all frame answers with these exact strings, and
the citation checker exempts them: a lead-in or a refusal needs no citation.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from coiassist.analyzer import normalize

LANGUAGES = ("da", "nb", "nn")


@dataclass(frozen=True)
class Phrases:
    """One language's frame phrases."""

    lead_in: str  # before quoted sentences
    refusal: str  # the articles do not answer the question
    sources: str  # heading of the source list
    no_sources: str  # nothing was retrieved at all
    fallback: str  # the configured LLM failed, so the offline backend answered
    dropped: str  # sentences the citations did not support were removed
    flagged: str  # explains the flag mark on unsupported sentences


PHRASES: dict[str, Phrases] = {
    "da": Phrases(
        lead_in="Ifølge artiklerne:",
        refusal="Det kan jeg ikke finde svar på i artiklerne.",
        sources="Kilder",
        no_sources="Jeg fandt ingen artikler, der handler om spørgsmålet.",
        fallback="Sprogmodellen svarede ikke, så dette er det offline svar fra artiklerne.",
        dropped="Sætninger, som kilderne ikke understøtter, er fjernet.",
        flagged="Sætninger markeret med [?] understøttes ikke af kilderne.",
    ),
    "nb": Phrases(
        lead_in="Ifølge artiklene:",
        refusal="Det finner jeg ikke svar på i artiklene.",
        sources="Kilder",
        no_sources="Jeg fant ingen artikler som handler om spørsmålet.",
        fallback="Språkmodellen svarte ikke, så dette er det frakoblede svaret fra artiklene.",
        dropped="Setninger som kildene ikke støtter, er fjernet.",
        flagged="Setninger merket med [?] støttes ikke av kildene.",
    ),
    "nn": Phrases(
        lead_in="Ifølgje artiklane:",
        refusal="Det finn eg ikkje svar på i artiklane.",
        sources="Kjelder",
        no_sources="Eg fann ingen artiklar som handlar om spørsmålet.",
        fallback="Språkmodellen svarte ikkje, så dette er det fråkopla svaret frå artiklane.",
        dropped="Setningar som kjeldene ikkje støttar, er fjerna.",
        flagged="Setningar merkte med [?] er ikkje støtta av kjeldene.",
    ),
}


def phrases_for(lang: str) -> Phrases:
    """The phrases of `lang`; Norwegian without a variant ("no") reads as bokmål, anything else as Danish."""
    if lang == "no":
        return PHRASES["nb"]
    return PHRASES.get(lang, PHRASES["da"])


def _key(text: str) -> str:
    return " ".join(normalize(text).split())


_FRAME = frozenset(_key(getattr(p, f.name)) for p in PHRASES.values() for f in fields(Phrases))


def is_frame_phrase(sentence: str) -> bool:
    """Is this sentence one of the fixed phrases (in any language), which need no citation?"""
    return _key(sentence) in _FRAME
