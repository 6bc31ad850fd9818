"""What of a source the extractive backend may quote, and how it reads when quoted.

A source line is cleaned (`quotable`), told apart as a heading, caption or byline, and kept out
when it carries markup or reads as an instruction to an assistant (`safe`, `harmless`): sources are
untrusted text. Two answer shapes quote an article's structure rather than its best-matching
sentences: its lede (`lede`, for "what is the article about") and its numbered sections
(`numbered`, for "which four takeaways").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from coiassist.analyzer import content_stems, normalize, tokenize
from coiassist.backends.base import Source
from coiassist.citations import MARKER, names_in
from coiassist.intent import count_words
from coiassist.sentences import numbered_items, split_sentences

# A shorter line is no sentence to quote for itself ("Lene Krogh Jeppesen, COI").
MIN_WORDS = 4
CAPTION = re.compile(
    r"^(?:foto|fotos|video|billede|billeder|bilde|bilder|illustration|grafik|kilde)\s*:", re.IGNORECASE
)

# Sentences an attacker writes to steer an assistant; quoting them would relay the attack.
_INSTRUCTION = re.compile(
    r"\b(ignor\w*|glem\w*|disregard|forget|overse)\b.{0,60}\b(instru\w*|regl\w*|rules|prompt\w*|"
    r"tidligere|previous|above|ovenfor|ovenstående)"
    r"|\b(system ?prompt|systeminstru\w*|jailbreak|developer mode)\b"
    r"|\b(svar|svare|answer|respond|reply|output|skriv|write|print)\w* (kun|bare|berre|only)\b"
    r"|\b(reveal|afslør\w*|avslør\w*|vis|show) (your|din|dine|dit|ditt|dei|the) "
    r"(prompt|instru\w*|system\w*|hemmelig\w*|secret\w*)"
    r"|\b(you are|du er) (now|nu|nå|no) \b"
    r"|\b(as an ai|som en ai|som ein ai|language model|sprogmodel|språkmodell)\b"
)
# A line that sends the reader elsewhere ("Les mer Center for Offentlig Innovation og deres artikkel
# om besøket her", "Læs også: ..."): a link's text, which says nothing itself.
_NAVIGATION = re.compile(
    r"^(?:les|læs|lees) (?:mer|mere|meir|også|hele)\b|^(?:se|sjå) (?:mer|mere|meir|også)\b"
    r"|^(?:klikk|klik) her\b|^(?:read more|continue reading)\b",
    re.IGNORECASE,
)
# Markup that would render as a link, an image or HTML in the chat.
_MARKUP = re.compile(r"!?\[[^\]]*\]\([^)]*\)|<\s*/?\s*[a-zA-Z][^>]*>|\[[^\]]*\]:\s*\S")
_LEADING_JUNK = "-–—•*#> \t"
_QUOTES = {'"': '"', "«": "»", "“": "”", "'": "'", "„": "“"}
# A sentence ends in . ! ? or …, perhaps inside a closing quote or bracket; "Krag (S)" does not.
TERMINAL = re.compile(r"[.!?…][\"'»”)]*$")


@dataclass(frozen=True)
class Candidate:
    """A source sentence scored for the question."""

    key: int
    text: str  # as it will be quoted
    score: float  # evidence plus a bonus when it holds what the question asks for (extractive)
    coverage: float  # evidence: idf-weighted share of the question's stems (`score_sentences`)
    order: tuple[int, int]  # (source position, sentence position), for stable ties
    heading: bool = False  # a title line: quoted together with the sentence after it
    typed: bool = False  # holds what the question asks for (a number, a date, a name)
    lexical: float = 0.0  # the score without the similarity credit: decides whether and how much


_ENUMERATION = re.compile(r"^\d{1,2}[.)]\s+(?=[A-ZÆØÅ])")


def quotable(sentence: str) -> str:
    """The sentence as quoted: leading dashes, bullets, a section number, an unmatched opening
    quote and footnote marks ("1361 [56] 62" in Wikipedia text) removed: a "[2]" of the source
    would read as a citation of source 2."""
    text = " ".join(MARKER.sub(" ", sentence).split())
    text = _ENUMERATION.sub("", text.lstrip(_LEADING_JUNK))
    if text[:1] in _QUOTES and _QUOTES[text[0]] not in text[1:]:
        text = text[1:].lstrip()
    return text


def is_heading(text: str) -> bool:
    """A line without final punctuation: a title or caption, quoted only with the next sentence."""
    return not TERMINAL.search(text) and len(text.split()) < 12


def safe(text: str) -> bool:
    """Long enough to quote for itself, no link text, and harmless."""
    return len(text.split()) >= MIN_WORDS and not _NAVIGATION.match(text) and harmless(text)


def harmless(text: str) -> bool:
    """Neither markup nor an instruction to an assistant."""
    return not (_MARKUP.search(text) or _INSTRUCTION.search(normalize(text)))


def article_of(source: Source) -> str:
    """The article a source comes from; without an id or a title, each source is its own."""
    return source.article or source.title or f"#{source.key}"


def lede(opening: Source, given: Sequence[Source], most: int) -> list[Candidate]:
    """The first `most` quotable sentences of an article from its opening chunk on, until the first
    line without final punctuation (a heading, a link).

    Captions and the title repeated are skipped, and so is a pull quote that opens the article: the
    sentences before a line that names who said them ("Lene Krogh Jeppesen, COI").
    """
    parts = [opening, *(s for s in given if s.continues == opening.key)]
    found: list[Candidate] = []
    for position, source in enumerate(parts):
        for i, (start, end) in enumerate(split_sentences(source.text)):
            text = quotable(source.text[start:end])
            if text and not TERMINAL.search(text):
                # A heading, a byline, or a link line ("Les mer ... artikkel om besøket her").
                if found and is_byline(text) and position == 0:
                    found = []
                elif found:
                    return found
                continue
            if not safe(text) or CAPTION.match(text) or any(c.text == text for c in found):
                continue
            if normalize(text) == normalize(quotable(source.title)):
                continue  # the title, repeated as the text's first line
            found.append(Candidate(source.key, text, 0.0, 0.0, (position, i)))
            if len(found) == most:
                return found
    return found


def is_byline(line: str) -> bool:
    """ "Lene Krogh Jeppesen, COI": a name, a comma and who they are, in a few words."""
    return "," in line and len(line.split()) <= 8 and bool(names_in(line))


def numbered(
    article: str, count: int, words: Sequence[str], given: Sequence[Source], lang: str
) -> list[Candidate]:
    """The article's lines numbered 1 to `count`, each on its own line, when the article announces
    that many of what the question asks for ("4 vigtige takeaways" for "Hvilke fire takeaways
    ...?") in its title or before its line 1; none unless all of them, and no line numbered
    `count` + 1, are among the sources. "Hvilke to projekter ...?" is no question for the first
    two of four takeaways, nor "Hvilke fire dele ...?" for them because a paragraph of one of them
    names "de fire dele af syntesen"."""
    items: dict[int, Candidate] = {}
    announced = False
    for position, source in enumerate(given):
        if article_of(source) != article:
            continue
        announced = announced or _announces(count, words, source.title, source.lang or lang, lang)
        for number, line in numbered_items(source.text).items():
            text = quotable(line)
            if number == count + 1 or not (text and harmless(text)):
                return []
            if number == 1:
                before = source.text[: source.text.find(line)]
                announced = announced or _announces(count, words, before, source.lang or lang, lang)
            if number <= count:
                items.setdefault(
                    number, Candidate(source.key, text, 0.0, 0.0, (position, number), heading=True)
                )
    return [items[n] for n in range(1, count + 1)] if announced and len(items) == count else []


def _announces(count: int, words: Sequence[str], text: str, text_lang: str, lang: str) -> bool:
    """Does `text` write `count` followed within three words by one of `words` ("4 vigtige
    takeaways")? Stems match when one begins the other (Danish "projek", Norwegian "projekt")."""
    wanted = [stem for word in words for stem in content_stems(word, lang)]
    tokens = tokenize(text)
    numbers = count_words(count)
    for i, token in enumerate(tokens):
        if token not in numbers:
            continue
        for after in tokens[i + 1 : i + 4]:
            stems = content_stems(after, text_lang)
            if stems and any(_same_stem(stems[0], w) for w in wanted):
                return True
    return False


def _same_stem(a: str, b: str) -> bool:
    return a == b or (min(len(a), len(b)) >= 4 and (a.startswith(b) or b.startswith(a)))
