"""Properties that must hold for any input: chunk spans, the analyzer, the citation checker, readers."""

from __future__ import annotations

import string
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coiassist import analyzer
from coiassist.chunking import chunk_article
from coiassist.citations import check_answer
from coiassist.embeddings import Embedder
from coiassist.ingest import SUPPORTED_SUFFIXES, read_file
from coiassist.models import Article, ReadFailure

pytestmark = pytest.mark.reliability

WORDS = ["velfærd", "kommunen", "tillitsreform", "innbyggjarane", "ældre", "Borgerne", "2024", "12,5", "kr."]
# Words, punctuation, odd spaces, emoji, letters of other scripts: what articles really hold.
texty = st.lists(
    st.one_of(
        st.sampled_from(WORDS),
        st.sampled_from([". ", "? ", "! ", "\n\n", "\n", " ", "  ", "\t", " – ", "…", "\u00a0", "🙂"]),
        st.text(alphabet=string.ascii_letters + "æøåÆØÅéü", min_size=1, max_size=30),
        st.text(min_size=1, max_size=8),
    ),
    max_size=120,
).map("".join)
FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(text=texty, budget=st.integers(8, 64), overlap_share=st.floats(0, 0.9))
def test_chunks_map_back_to_the_text_drop_nothing_and_keep_the_budget(
    embedder: Embedder, text: str, budget: int, overlap_share: float
) -> None:
    article = Article(id="a", title="T", text=text, lang="da", content_hash="h", source="a.txt")
    overlap = int(budget * overlap_share)
    chunks = chunk_article(article, embedder.token_offsets, budget, overlap)
    covered = [False] * len(text)
    for ordinal, chunk in enumerate(chunks):
        assert chunk.ordinal == ordinal and chunk.id == f"a:{ordinal}"
        assert 0 <= chunk.start < chunk.end <= len(text)
        assert chunk.text == text[chunk.start : chunk.end]
        assert chunk.text.strip()
        assert len(embedder.token_offsets([chunk.text])[0]) <= budget + 2, (budget, chunk.text)
        for i in range(chunk.start, chunk.end):
            covered[i] = True
    dropped = "".join(ch for ch, seen in zip(text, covered, strict=True) if not seen)
    assert not dropped.strip(), repr(dropped)


@FAST
@given(text=st.text(max_size=300), lang=st.sampled_from(["da", "nb", "nn", "xx"]))
def test_analyzer_never_crashes_is_deterministic_and_normalises_once(text: str, lang: str) -> None:
    once = analyzer.normalize(text)
    assert analyzer.normalize(once) == once
    assert analyzer.tokenize(text) == analyzer.tokenize(text)
    terms = analyzer.index_terms(text, lang if lang != "xx" else "da")
    assert terms == analyzer.index_terms(text, lang if lang != "xx" else "da")
    assert all(isinstance(t, str) and t and not t.isspace() for t in terms)
    assert analyzer.query_terms(text) == analyzer.query_terms(text)
    assert analyzer.query_terms(text, lang if lang != "xx" else None) is not None


@FAST
@given(
    answer=st.one_of(st.text(max_size=300), texty.map(lambda t: t + " [1]. Og mere [2][3]. [9]")),
    sources=st.dictionaries(st.integers(1, 4), st.one_of(texty, st.text(max_size=200)), max_size=4),
    lang=st.sampled_from(["da", "nb", "nn"]),
)
def test_citation_checker_never_crashes_and_support_is_a_share(
    answer: str, sources: dict[int, str], lang: str
) -> None:
    for check in check_answer(answer, sources, lang):
        assert 0.0 <= check.support <= 1.0
        assert isinstance(check.supported, bool)


_DIR = Path(tempfile.mkdtemp(prefix="coiassist-fuzz-"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.one_of(
        st.binary(max_size=4000),
        st.text(max_size=2000).map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.sampled_from(
            [
                b"%PDF-1.7\n%\xe2\xe3\n1 0 obj<<>>\nendobj\ntrailer<<>>\n%%EOF",
                b"---\ntitle: [\n---\n",
                b"\xef\xbb\xbf",
                b"\xff\xfe\x00",
                b'{"id": 1}\n{"text": null}\n[]\n"x"\n',
            ]
        ),
    ),
    suffix=st.sampled_from([*SUPPORTED_SUFFIXES, ".exe", ""]),
)
def test_readers_turn_any_bytes_into_articles_or_failures(data: bytes, suffix: str) -> None:
    path = _DIR / f"fil{suffix}"
    path.write_bytes(data)
    articles, failures = read_file(path, _DIR)
    assert all(isinstance(f, ReadFailure) and f.reason for f in failures)
    for article in articles:
        assert article.text.strip() and article.id and ":" not in article.id
    assert articles or failures
