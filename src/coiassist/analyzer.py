"""Lexical analysis of Danish and Norwegian (bokmål, nynorsk) text for BM25 and citation checks.

The offline embedding model is English-trained, so recall comes from BM25, and BM25 is only as
good as its terms. A passage becomes Snowball stems of its content words plus character 4-grams
of each content word padded with "_" ("_inn", "inno", …, "ion_"), in their own namespace
(prefixed "#"): Danish and Norwegian write compounds as one word, and a query for "innovation"
must find "velfærdsinnovation". Query n-grams weigh `NGRAM_WEIGHT` against whole stems (applied by
`coiassist.lexical`). Every choice in `DEFAULT_CONFIG` was measured on the dev sets by
`bench/tune_lexical.py`.

Normalisation is applied the same way to passages and queries, so any mapping only needs to be
consistent, not linguistically exact: casefold, NFKC, ä→æ, ö→ø, other accents dropped (é→e),
"aa" at the start or end of a word → "å" (Aarhus ≡ Århus, Aabenraa ≡ Åbenrå; inside a word
"aa" is usually a compound seam, as in "dataanalyse"), "ae"→"æ" and "oe"→"ø" are NOT mapped
(they are ordinary letter pairs in "israel", "poesi", "koefficient"); ASCII "Kobenhavn" is a
misspelling that only the n-grams can rescue.

Stopword lists: the Danish and Norwegian lists follow the Snowball project's stop lists
(snowballstem.org, BSD licence, © Dr Martin Porter and Richard Boulton), extended with question
words and a few nynorsk function words that questions use.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

import Stemmer

__all__ = [
    "DEFAULT_CONFIG",
    "NGRAM_PREFIX",
    "NGRAM_WEIGHT",
    "AnalyzerConfig",
    "analyze_index",
    "analyze_query",
    "content_stems",
    "content_words",
    "index_terms",
    "normalize",
    "query_terms",
    "tokenize",
]

NGRAM_PREFIX = "#"
# A query's n-grams score at this weight beside its whole-word stems: each word yields several
# n-grams, and at full weight they drown out the exact-word evidence (measured: +0.01–0.02 MRR
# on SQuAD-da without padding; with padding the weights 1/3 to 1 are within noise).
NGRAM_WEIGHT = 1 / 3

_DANISH_STOPWORDS = """
og i jeg det at en den til er som på de med han af for ikke der var mig sig men et har om vi min
havde ham hun nu over da fra du ud sin dem os op man hans hvor eller hvad skal selv her alle vil
blev kunne ind når være dog noget ville jo deres efter ned skulle denne end dette mit også under
have dig anden hende mine alt meget sit sine vor mod disse hvis din nogle hos blive mange ad
bliver hendes været thi jer sådan
hvem hvilken hvilket hvilke hvornår hvordan hvorfor hvorledes hvormed hvori blevet bleve
"""

_NORWEGIAN_STOPWORDS = """
og i jeg det at en et den til er som på de med han av ikke ikkje der så var meg seg men ett har
om vi min mitt ha hadde hun nå over da ved fra du ut sin dem oss opp man kan hans hvor eller hva
skal selv sjøl her alle vil bli ble blei blitt kunne inn når være kom noen noe ville dere deres
kun ja etter ned skulle denne for deg si sine sitt mot å meget hvorfor dette disse uten hvordan
ingen din ditt blir samme hvilken hvilke sånn inni mellom vår hver hvem vors hvis både bare enn
fordi før mange også slik vært båe begge siden dykk dykkar dei deira deires deim di då eg ein
eit eitt elles honom hjå ho hoe henne hennar hennes hoss hossen ingi inkje korleis korso kva
kvar kvarhelst kven kvi kvifor me medan mi mine mykje no nokon noka nokor noko nokre sia sidan so
somt somme um upp vere vore verte vort varte vart
hvilket hvilke hvem vert vorte frå berre kor kva slags òg
"""


def _stopword_set(words: str) -> frozenset[str]:
    return frozenset(normalize(w) for w in words.split())


@dataclass(frozen=True)
class AnalyzerConfig:
    """How words become BM25 terms; the variants are compared by bench/tune_lexical.py."""

    stem: bool = True
    stopwords: bool = True
    # Character n-grams added for every word (0: none), of the word padded with "_" at both ends so
    # that word starts and ends count; the shortest word that gets them. N-grams only of long words
    # over-weight those words and measured worse than n-grams of all words.
    ngram: int = 4
    ngram_pad: bool = True
    ngram_min_word: int = 1
    # Query words are stemmed with both the Danish and the Norwegian stemmer, because a question
    # may be asked in the other language than the passage it should find.
    query_both_stemmers: bool = True


DEFAULT_CONFIG = AnalyzerConfig()
# Part of the collection name: bump it whenever index terms for the same text would change, so
# an index analysed the old way is rebuilt rather than queried with differently analysed terms.
ANALYZER_VERSION = "3"

# Apostrophes and possessive "'s" ("NTB's" → "ntb") are dropped; hyphens split words ("VM-gull").
_POSSESSIVE = re.compile(r"(?<=\w)['’´`]s\b")
_TOKEN = re.compile(r"\d+(?:[.,]\d+)+|[^\W_]+")
_AA_EDGE = re.compile(r"\baa|aa\b")
_HYPHENATED = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)+")
# Only characters outside ASCII and æøå are looked at, so Danish text costs one regex scan.
_FOREIGN_LETTER = re.compile(r"[^\x00-\x7fæøå]")
_NORDIC_FOLDS = {"ä": "æ", "ö": "ø"}
# Names the written standards spell apart, normalised: Nynorsk "Noreg" is Bokmål and Danish
# "Norge". Queries look for both spellings, and content stems use the second, so a Nynorsk
# question about Norway finds and is answered by the articles that say "Norge", and the reverse.
_SPELT_APART = {"noreg": "norge", "noregs": "norges"}
_OTHER_SPELLING = {**_SPELT_APART, **{b: a for a, b in _SPELT_APART.items()}}


def spellings(word: str) -> tuple[str, ...]:
    """A normalised word and its spelling in the other written standard, if they differ."""
    other = _OTHER_SPELLING.get(word)
    return (word, other) if other else (word,)


def normalize(text: str) -> str:
    """Casefolded canonical spelling, the same for passages and queries."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _FOREIGN_LETTER.sub(_fold_letter, text)
    return _AA_EDGE.sub("å", text)


@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    if ch in _NORDIC_FOLDS:
        return _NORDIC_FOLDS[ch]
    return "".join(c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c))


def _fold_letter(match: re.Match[str]) -> str:
    return _fold_char(match.group())


def tokenize(text: str) -> list[str]:
    """Normalised words and numbers ("2020", "1,5"), punctuation dropped ("27." → "27")."""
    return _TOKEN.findall(_POSSESSIVE.sub("", normalize(text)))


_STOPWORDS = {
    "da": _stopword_set(_DANISH_STOPWORDS),
    "no": _stopword_set(_NORWEGIAN_STOPWORDS),
}
_ALL_STOPWORDS = _STOPWORDS["da"] | _STOPWORDS["no"]
_STEMMERS = {"da": Stemmer.Stemmer("danish"), "no": Stemmer.Stemmer("norwegian")}


def stem_family(lang: str | None) -> str:
    """The stemmer and stopword family: nb and nn share Snowball's Norwegian; unknown → Danish."""
    return "no" if lang in ("nb", "nn", "no") else "da"


class Analyzer:
    """Turns text into terms under one `AnalyzerConfig`, with per-word caches for speed."""

    def __init__(self, config: AnalyzerConfig = DEFAULT_CONFIG) -> None:
        self.config = config
        self._index_word: dict[str, Callable[[str], tuple[str, ...]]] = {
            fam: lru_cache(maxsize=400_000)(self._make_word_terms(fam)) for fam in _STEMMERS
        }
        self._query_word = lru_cache(maxsize=50_000)(self._query_word_terms)

    def _stem(self, family: str, word: str) -> str:
        if not self.config.stem or word[0].isdigit():
            return word
        return _stem_word(family, word)

    def _ngrams(self, word: str) -> list[str]:
        n = self.config.ngram
        # Numbers get none: "2021" sharing "_202" with "2020" is noise, not evidence.
        if n <= 0 or len(word) < self.config.ngram_min_word or word[0].isdigit():
            return []
        if self.config.ngram_pad:
            word = f"_{word}_"
        return [NGRAM_PREFIX + word[i : i + n] for i in range(len(word) - n + 1)]

    def _make_word_terms(self, family: str) -> Callable[[str], tuple[str, ...]]:
        stopwords = _STOPWORDS[family]

        def word_terms(word: str) -> tuple[str, ...]:
            if self.config.stopwords and word in stopwords:
                return ()
            return (self._stem(family, word), *self._ngrams(word))

        return word_terms

    def _query_word_terms(self, word: str, family: str | None) -> tuple[str, ...]:
        # Questions drop words that are stopwords in either language: a Norwegian "hvem" or
        # Danish "hvad" in a question is never what it is about.
        if self.config.stopwords and word in _ALL_STOPWORDS:
            return ()
        if family is None or self.config.query_both_stemmers:
            stems = dict.fromkeys(self._stem(fam, word) for fam in _STEMMERS)
        else:
            stems = {self._stem(family, word): None}
        return (*stems, *self._ngrams(word))

    def index_terms(self, text: str, lang: str) -> list[str]:
        word_terms = self._index_word[stem_family(lang)]
        out: list[str] = []
        for word in tokenize(text):
            out.extend(word_terms(word))
        return out

    def query_terms(self, text: str, lang: str | None = None) -> list[str]:
        family = None if lang is None else stem_family(lang)
        terms: dict[str, None] = {}
        for word in tokenize(text):
            for spelling in spellings(word):
                terms.update(dict.fromkeys(self._query_word(spelling, family)))
        return list(terms)

    def content_stems(self, text: str, lang: str, joined: bool = False) -> list[str]:
        family = stem_family(lang)
        stopwords = _STOPWORDS[family]
        stems = [_stem_word(family, _SPELT_APART.get(w, w)) for w in tokenize(text) if w not in stopwords]
        if joined and "-" in text:
            for word in _HYPHENATED.findall(normalize(text)):
                stems.append(_stem_word(family, word.replace("-", "")))
        return stems


# Snowball's Norwegian stemmer strips "-er" only from a noun's indefinite singular: "ordfører" →
# "ordfør", but "ordføreren" → "ordfører" and "lederne" → "ledern"; Nynorsk "ordføraren" →
# "ordførar". For a word in such an inflected form, what its stem still ends in is stripped,
# which makes the forms one term, as the Danish stemmer does ("lederne", "ledere", "leder" →
# "led"). Only for those forms: "kamera" → "kamer" and the name "Byrara" → "byrar" keep their
# letters (stripped, the name no longer matched its Danish stem "byrara").
_NORWEGIAN_FORM = re.compile(r"\w{3,}(?:er|ar)(?:en|ens|ene|enes|ne|nes|e|es|et|ets|ar|ane|anes)$")
_NORWEGIAN_TAIL = re.compile(r"(?:ern|er|ar)$")


@lru_cache(maxsize=200_000)
def _stem_word(family: str, word: str) -> str:
    if word[0].isdigit():
        return word
    stem = str(_STEMMERS[family].stemWord(word))
    if family == "no" and _NORWEGIAN_FORM.match(word):
        return _NORWEGIAN_TAIL.sub("", stem)
    return stem


_DEFAULT = Analyzer()


def index_terms(text: str, lang: str) -> list[str]:
    """BM25 terms of a passage in `lang` (da, nb, nn): stems, plus "#"-prefixed n-grams of long words."""
    return _DEFAULT.index_terms(text, lang)


def query_terms(text: str, lang: str | None = None) -> list[str]:
    """BM25 terms of a query, deduplicated; stems from both stemmers so da↔no questions still match."""
    return _DEFAULT.query_terms(text, lang)


def content_stems(text: str, lang: str, joined: bool = False) -> list[str]:
    """Stems of the content words (stopwords removed, no n-grams), in order, for support checks.

    With `joined`, a hyphenated word's stem written as one word follows them too, for the text a
    question or claim is looked up in: "Utenforregnskapet" is then found where it says
    "Utenfor-regnskapet" (a stem is found inside a longer compound, never one spread over two).
    """
    return _DEFAULT.content_stems(text, lang, joined)


def content_words(text: str) -> frozenset[str]:
    """The normalised words of `text` that are no stopword in Danish or Norwegian, unstemmed."""
    return frozenset(w for w in tokenize(text) if w not in _ALL_STOPWORDS)


def analyze_index(texts: Iterable[tuple[str, str]], config: AnalyzerConfig) -> list[list[str]]:
    """Index terms of (text, lang) pairs under a non-default config (used by the tuning bench)."""
    analyzer = Analyzer(config)
    return [analyzer.index_terms(text, lang) for text, lang in texts]


def analyze_query(texts: Iterable[tuple[str, str | None]], config: AnalyzerConfig) -> list[list[str]]:
    """Query terms of (text, lang) pairs under a non-default config (used by the tuning bench)."""
    analyzer = Analyzer(config)
    return [analyzer.query_terms(text, lang) for text, lang in texts]
