"""What shape of answer a question asks for beyond a fact, and how it refers to the articles.

"Hvad handler artiklen om Velfærdens Innovationsdag om?" or "Oppsummer artikkelen om prisvinnerne"
is answered by the article's opening (its lede), not by the sentence that shares most words with
the question: those words are mostly "artikel" and "handler", which match a link line ("Les mer ...
artikkel om besøket her") or nothing. The assistant searches for the subject alone and adds the
opening chunk of each article found; the extractive backend quotes the lede of the article the
subject points to (see `backends/extractive.py`).

Asking about an article needs a word for it ("artiklen", "teksten", "innlegget") with a word of
summing up or of what it is about ("handler om", "resumé", "hovedbudskab"). "Hvad handler Tilbake
til skole om?" asks about the project, which the sentences that name it answer better than a lede.
Only an imperative ("Opsummer Velfærdens Innovationsdag") needs no word for the article.

"Hvilke fire takeaways nævnes?" asks for a list whose items a listicle numbers ("1. Åbningstale
ved ..."), each in another chunk: `listed` says how many of what, and the assistant adds the chunks
that hold them (`Retriever.listing`).

"Hva sier artikkelen om Asker Velferdslab?" refers to the articles themselves; those words are
not searched for (`without_article_words`).
"""

from __future__ import annotations

import re

from coiassist.analyzer import normalize, tokenize
from coiassist.citations import names_in

_ARTICLE = r"(?:artik\w*|tekst\w*|indl[æe]g\w*|innlegg\w*)"
_SUMMING = (
    r"(?:op{1,2}sum\w*|sammenfat\w*|samanfat\w*|resum\w*|sammendrag\w*|samandrag\w*|"
    r"hov[eu]d(?:budskab|budskap|bodskap|poeng|point|punkt|tema|indhold|innhold|innhald)\w*|"
    r"vi[gk]tiga?ste (?:pointer|point|poeng|poenga|poengene|budskab|budskap|bodskap|budskaber)\b)"
)
# "handler/dreier ... om", "omhandler", "går ... ud/ut på".
_ABOUT = r"(?:(?:handler|handlar|dreier|dreiar)\b.*\bom|omhandler|omhandlar|(?:ud|ut) på)"
_ARTICLE_WORD = re.compile(rf"\b{_ARTICLE}\b")
_SUMMING_OR_ABOUT = re.compile(rf"\b(?:{_SUMMING}|{_ABOUT})\b")
_IMPERATIVE = re.compile(
    r"^(?:kan du |vil du |kunne du )?(?:op{1,2}sum\w*|resum\w*|sammenfat\w*|samanfat\w*|"
    r"(?:giv|give|gi|gje|lav|lage|lag) (?:mig |meg |et |en |ei |eit |ein )*(?:kort |kortfattet |kortfatta )?"
    rf"{_SUMMING})\b"
)
# Words of asking about an article, left out of the subject it is asked about.
_META = re.compile(
    rf"^(?:{_ARTICLE}|{_SUMMING}|handler|handlar|dreier|dreiar|omhandler|omhandlar|går|gar|ud|ut|"
    r"om|på|kort|kortfattet|kortfatta|giv|give|gi|gje|lav|lage|lag|mig|meg|kan|vil|kunne|du|hvad|hva|kva|"
    r"hvilke|hvilket|hvilken|er|var|i|af|av|et|en|ei|eit|ein|den|denne|dette|det|de|dei|seg|sig|"
    r"vi[gk]tiga?ste|pointer|point|poeng|poenga|poengene|budskab|budskap|bodskap|budskaber)$"
)


# The article(s) as the question refers to them, with the verb of saying that goes with them: "Hva
# sier artikkelen om Asker Velferdslab?" is about Asker Velferdslab, "artikkel" would find the link
# line "deres artikkel om besøket her", and "sier" any quote. Only the definite forms: "Hvilken
# artikel i Grundgesetz ...?" (SQuAD-da) asks about an article of a law. Not "innlegget": "Når la Sahin
# ut det omstridte innlegget sitt?" (NorQuAD) asks about his post. No dev question holds one.
_THE_ARTICLE = r"(?:artiklen|artiklerne|artikkelen|artiklene|artiklane|artiklens|artikkelens)"
_SAYING = (
    r"(?:siger|sagde|sier|sa|seier|skriver|skrev|fortæller|fortalte|forteller|fortel|nævner|nævnte|"
    r"nevner|nevnte|nemner|beskriver|beskrev|står|stod|sto)"
)
_ARTICLE_PHRASE = re.compile(
    rf"(?:\b{_SAYING}\s+(?:der\s+|det\s+)?(?:i\s+)?|\b(?:ifølge|iflg\.?|ifylgje)\s+)?"
    rf"\b{_THE_ARTICLE}\b(?:\s+{_SAYING}\b)?,?",
    re.IGNORECASE,
)


def asks_summary(question: str) -> bool:
    """Does the question ask what an article (on some subject) is about?"""
    text = " ".join(tokenize(question))
    if _IMPERATIVE.search(text):
        return True
    return bool(_ARTICLE_WORD.search(text) and _SUMMING_OR_ABOUT.search(text))


# "Hvilke artikler handler om Norge?", "Kva artiklar ...": asks which articles, not what one says.
_WHICH_ARTICLES = re.compile(
    r"\b(?:hvilke|kva|kva for|hvilken|hvilket)\s+(?:artikler|artiklar|tekster|tekstar|indlæg|innlegg)\b"
)


def asks_which_articles(question: str) -> bool:
    """Does a summary question ask which articles (plural) are about its subject?"""
    return bool(_WHICH_ARTICLES.search(" ".join(tokenize(question))))


def summary_subject(question: str) -> str:
    """The question without its words of asking about an article: what the article is about
    ("danske prisvindere" of "Opsummer artiklen om de danske prisvindere"), in its own casing
    so that names stay names; empty when it names no subject ("Hvad handler artiklen om?")."""
    words = []
    for word in question.split():
        bare = word.strip(".,;:!?«»\"'()")
        if bare and not _META.match(normalize(bare)):
            words.append(bare)
    return " ".join(words)


def names(question: str) -> list[str]:
    """The names a (standalone) question holds (`citations.names_in`), with every capitalised word
    of the part a follow-up's rewrite carries in parentheses: "Hvornår startede det? (Borgerdesign
    COI står bag)" is about Borgerdesign, though a word after "(" reads as a clause's first."""
    head, _, carried = question.partition(" (")
    return names_in(head) + [w.strip("(),.?") for w in carried.split() if w[:1].isupper()]


# "Fortæl om Borgerdesign", "Fortell meg litt om Asker Velferdslab", "Hva vet du om COI?": the
# words of the request are not what it is about; "fortæl" matched a sentence that says "at
# fortælle om" instead of one about Borgerdesign.
_TELL_ABOUT = re.compile(
    r"^(?:(?:kan|vil|kunne) du\s+)?(?:fortæl|fortælle|fortell|fortelle|fortel|forklar|forklare|beskriv|"
    r"beskrive)\s+(?:(?:mig|meg|lidt|litt|mere|mer|meir|noget|noe|noko)\s+)*(?:om\s+)?|"
    r"^(?:hvad ved|hva vet|kva veit) du om\s+",
    re.IGNORECASE,
)


def without_article_words(question: str) -> str:
    """The question without the words by which it refers to the articles themselves, or asks to
    be told about its subject ("Fortæl om X" → "X")."""
    question = question.strip()
    request = _TELL_ABOUT.match(question)
    if request:  # what is left names the subject, or asks its own question ("Forklar hvorfor ...")
        question = question[request.end() :]
    return re.sub(r"\s+(?=[?.!,])", "", " ".join(_ARTICLE_PHRASE.sub(" ", question).split()))


def search_text(question: str) -> str:
    """What to search the index for: the subject of a summary question, else the question without
    its words for the articles themselves."""
    if asks_summary(question):
        return summary_subject(question) or question
    return without_article_words(question)


_COUNT_WORDS = {
    "to": 2, "tre": 3, "fire": 4, "fem": 5, "seks": 6, "syv": 7, "sju": 7, "otte": 8, "åtte": 8,
    "ni": 9, "ti": 10,
}  # fmt: skip
_LISTED = re.compile(
    r"\b(?:hvilke|hva er de|hvad er de|kva er dei|nævn de|nevn de|nemn dei|list de|hva var de|"
    r"hvad var de|kva var dei)\s+(\d{1,2}|" + "|".join(_COUNT_WORDS) + r")\s+([^\W\d]\w*)(?:\s+([^\W\d]\w*))?"
)
# A longer list is not answered item by item.
MAX_LISTED = 10


def listed(question: str) -> tuple[int, tuple[str, ...]]:
    """How many things the question asks to be listed, and the one or two words after the count,
    one of which says what ("Hvilke fire takeaways nævnes?": 4, ("takeaways", "nævnes"); "Hva er de
    tre viktigste rådene?": 3, ("viktigste", "rådene")); (0, ()) for any other question."""
    match = _LISTED.search(" ".join(tokenize(question)))
    if not match:
        return 0, ()
    word = match.group(1)
    count = int(word) if word.isdigit() else _COUNT_WORDS[word]
    if not 2 <= count <= MAX_LISTED:
        return 0, ()
    return count, tuple(w for w in match.groups()[1:] if w)


def count_words(count: int) -> frozenset[str]:
    """The ways a text writes `count`: "4", "fire"."""
    return frozenset([str(count), *(w for w, n in _COUNT_WORDS.items() if n == count)])
