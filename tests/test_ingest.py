"""Reading the corpus: each format from real files, and every way a file can be refused."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.backends.backend_pdf import PdfPages

from coiassist import ingest
from coiassist.errors import CorpusError
from coiassist.ingest import read_corpus
from coiassist.models import Article, ReadFailure

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "ingest"
# CI and developers have the shared folder beside the clone; elsewhere that comparison skips.
SEED_ARTICLES = REPO.parent / "shared" / "seed-articles"

DANISH_BODY = (
    "Kommunerne arbejder i stigende grad med at bringe velfærden tættere på borgerne.\n\n"
    "Nærhed handler om, at medarbejderne har tid og mandat til at løse opgaven sammen med borgeren."
)
BOKMAL_BODY = (
    "Kommunene jobber stadig mer med å bringe velferden nærmere innbyggerne.\n\n"
    "Nærhet handler om at de ansatte har tid og mandat til å løse oppgaven sammen med innbyggeren."
)


def _only(articles: list[Article], failures: list[ReadFailure]) -> Article:
    assert failures == []
    assert len(articles) == 1
    return articles[0]


def _reasons(failures: list[ReadFailure]) -> dict[str, str]:
    return {f.path: f.reason for f in failures}


def _write_pdf(path: Path, pages: list[str], title: str = "") -> None:
    matplotlib.rcParams["pdf.fonttype"] = 42  # TrueType: a real text layer, as office exports have
    metadata = {"Title": title, "CreationDate": dt.datetime(2021, 3, 15, 9, 0)} if title else {}
    with PdfPages(path, metadata=metadata) as pdf:
        for page in pages:
            fig = plt.figure(figsize=(8.27, 11.69))
            fig.text(0.08, 0.9, page, va="top", wrap=True)
            pdf.savefig(fig)
            plt.close(fig)


# --- the bundled corpus -------------------------------------------------------------------------


def test_seed_articles_have_titles_languages_and_their_text() -> None:
    articles, failures = read_corpus(REPO / "corpus")
    assert failures == []
    by_id = {a.id: a for a in articles}
    assert sorted(by_id) == ["000_74ad8f97b165a93f", "003_bdb09a8fcfa0e7c3"]

    danish = by_id["000_74ad8f97b165a93f"]
    danish_file = (REPO / "corpus" / "000_74ad8f97b165a93f.txt").read_text(encoding="utf-8")
    assert danish.title == "4 vigtige takeaways fra Velfærdens Innovationsdag 2020"
    assert danish.lang == "da"
    assert danish.date == "2020-02-27"
    # Its first line is the headline the sidecar names, so the text is everything after it.
    assert danish.text == danish_file.split("\n", 1)[1].strip("\n")

    norwegian = by_id["003_bdb09a8fcfa0e7c3"]
    norwegian_file = (REPO / "corpus" / "003_bdb09a8fcfa0e7c3.txt").read_text(encoding="utf-8")
    assert norwegian.title == "Danske prisvinnere på digitalt studiebesøk i Norge"
    assert norwegian.lang == "nb"
    # It has no headline of its own: the opening quote stays in the text.
    assert norwegian.text == norwegian_file
    assert norwegian.text.startswith("De små nyanseforskjellene")


@pytest.mark.skipif(not SEED_ARTICLES.is_dir(), reason="shared/seed-articles is not beside the clone")
def test_bundled_seed_articles_are_byte_for_byte_the_originals() -> None:
    originals = sorted(SEED_ARTICLES.glob("*.txt"))
    assert originals
    for original in originals:
        assert (REPO / "corpus" / original.name).read_bytes() == original.read_bytes()


# --- plain text and markdown --------------------------------------------------------------------


def test_txt_first_non_empty_line_is_the_title(tmp_path: Path) -> None:
    (tmp_path / "nærhed.txt").write_text(f"\n\nNærhed i velfærden  \n\n{DANISH_BODY}\n", encoding="utf-8")
    article = _only(*read_corpus(tmp_path))
    assert article.title == "Nærhed i velfærden"
    assert article.text == DANISH_BODY
    assert article.lang == "da"
    assert article.source == "nærhed.txt"
    assert article.id == "nærhed"


def test_txt_front_matter_supplies_metadata_and_the_body_is_the_text(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(
        "---\ntitle: Nærhet i velferden\nlang: 'no'\ndate: 2021-03-15\nurl: https://example.org/a\n"
        f"id: nyhet:42\n---\n{BOKMAL_BODY}\n",
        encoding="utf-8",
    )
    article = _only(*read_corpus(tmp_path))
    assert (article.title, article.lang, article.date, article.url) == (
        "Nærhet i velferden",
        "nb",
        "2021-03-15",
        "https://example.org/a",
    )
    assert article.text == BOKMAL_BODY  # the body does not start with the title, so all of it stays
    assert article.id == "nyhet-42"  # ':' would break chunk ids `id:n`


def test_markdown_with_front_matter_and_a_non_ascii_name(tmp_path: Path) -> None:
    folder = tmp_path / "nyheder 2021"
    folder.mkdir()
    (folder / "Velfærd og nærhed.md").write_text(
        "---\ntitle: Velfærd og nærhed\nauthor: Redaktionen\ntags: [nærhed]\n---\n\n"
        f"# Velfærd og nærhed\n\n{DANISH_BODY}",
        encoding="utf-8",
    )
    article = _only(*read_corpus(tmp_path))
    assert article.id == "nyheder-2021/Velfærd-og-nærhed"
    assert article.source == "nyheder 2021/Velfærd og nærhed.md"
    assert article.title == "Velfærd og nærhed"
    assert article.text == DANISH_BODY  # the `# ` heading repeats the title and leaves the text


def test_markdown_without_metadata_takes_its_heading_as_title(tmp_path: Path) -> None:
    (tmp_path / "note.md").write_text(f"# Nærhed i velfærden\n\n{DANISH_BODY}", encoding="utf-8")
    article = _only(*read_corpus(tmp_path))
    assert article.title == "Nærhed i velfærden"
    assert article.text == DANISH_BODY


# --- sidecar metadata ---------------------------------------------------------------------------


def test_sidecar_title_keeps_a_headline_less_file_whole(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text(BOKMAL_BODY, encoding="utf-8")
    (tmp_path / "x.txt.meta.yaml").write_text("title: Nærhet i kommunene\nlang: nb\n", encoding="utf-8")
    article = _only(*read_corpus(tmp_path))
    assert article.title == "Nærhet i kommunene"
    assert article.text == BOKMAL_BODY


def test_sidecar_wins_over_front_matter(tmp_path: Path) -> None:
    (tmp_path / "x.md").write_text(
        f"---\ntitle: Gammel titel\ndate: 2020-01-01\n---\n{DANISH_BODY}", encoding="utf-8"
    )
    (tmp_path / "x.md.meta.yaml").write_text("date: 2021-06-30\n", encoding="utf-8")
    article = _only(*read_corpus(tmp_path))
    assert (article.title, article.date) == ("Gammel titel", "2021-06-30")


def test_sidecar_with_an_unknown_key_is_refused(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text(f"Titel\n\n{DANISH_BODY}", encoding="utf-8")
    (tmp_path / "x.txt.meta.yaml").write_text("titel: Stavefejl\n", encoding="utf-8")
    articles, failures = read_corpus(tmp_path)
    assert articles == []
    assert "unknown key titel" in _reasons(failures)["x.txt"]


def test_sidecar_without_its_article_is_reported(tmp_path: Path) -> None:
    (tmp_path / "renamed.txt.meta.yaml").write_text("title: Forældreløs\n", encoding="utf-8")
    assert _reasons(read_corpus(tmp_path)[1]) == {"renamed.txt.meta.yaml": "sidecar without its article file"}


@pytest.mark.parametrize(
    ("sidecar", "reason"),
    [
        ("lang: sv\n", "language 'sv' is not supported"),
        ("date: 27-02-2020\n", "not an ISO date"),
        ("date: 2020-02-30\n", "day is out of range"),
        ("date: '2020-02-30'\n", "not a real day"),
        ("url: javascript:alert(1)\n", "must start with http"),
        ("title: [unclosed\n", "invalid YAML"),
    ],
)
def test_bad_metadata_is_refused_with_the_reason(tmp_path: Path, sidecar: str, reason: str) -> None:
    (tmp_path / "x.txt").write_text(f"Titel\n\n{DANISH_BODY}", encoding="utf-8")
    (tmp_path / "x.txt.meta.yaml").write_text(sidecar, encoding="utf-8")
    articles, failures = read_corpus(tmp_path)
    assert articles == []
    assert reason in _reasons(failures)["x.txt"]


# --- HTML ---------------------------------------------------------------------------------------


def test_html_main_text_without_scripts_iframes_or_navigation() -> None:
    article = _only(*read_corpus(FIXTURES / "nærhed-artikel.html"))
    assert article.title == "Nærhed i velfærden"
    assert article.date == "2021-03-15"
    assert article.url == "https://example.org/artikler/naerhed-i-velfaerden"
    assert article.lang == "da"
    assert article.text.startswith("Kommunerne arbejder i stigende grad")
    assert "Erfaringerne viser, at nærhed kræver ledelse" in article.text
    for boilerplate in (
        "dataLayer",
        "sporingskode",
        "video.example.org",
        "Forside",
        "cookies",
        "Privatlivspolitik",
    ):
        assert boilerplate not in article.text


def test_html_page_without_main_text_is_an_empty_article(tmp_path: Path) -> None:
    (tmp_path / "tom.html").write_text(
        "<html><head><title>Tom</title><script>var x = 1;</script></head><body><nav><a href='/'>Forside</a>"
        "</nav></body></html>",
        encoding="utf-8",
    )
    assert "empty article" in _reasons(read_corpus(tmp_path)[1])["tom.html"]


def test_short_html_page_keeps_only_its_main_text(tmp_path: Path) -> None:
    (tmp_path / "kort.html").write_text(
        "<html><head><title>Aflyst</title></head><body><header><a href='/'>COI</a></header>"
        "<nav><a href='/'>Forside</a></nav><main><p>Mødet om nærhed er aflyst i dag på grund af sygdom.</p>"
        "</main><footer>Kontakt os</footer></body></html>",
        encoding="utf-8",
    )
    article = _only(*read_corpus(tmp_path))
    assert (article.title, article.text) == ("Aflyst", "Mødet om nærhed er aflyst i dag på grund af sygdom.")


# --- PDF ----------------------------------------------------------------------------------------


def test_pdf_text_keeps_its_page_numbers(tmp_path: Path) -> None:
    first = "Nærhed i velfærden\nKommunerne arbejder med at bringe velfærden tættere på borgerne."
    second = "Erfaringerne viser, at nærhed kræver ledelse og tillid til medarbejderne."
    _write_pdf(tmp_path / "rapport.pdf", [first, second], title="Rapport om nærhed")
    article = _only(*read_corpus(tmp_path))
    assert (article.title, article.date, article.lang) == ("Rapport om nærhed", "2021-03-15", "da")
    assert [number for number, _ in article.pages] == [1, 2]
    (_, start1), (_, start2) = article.pages
    assert start1 == 0
    assert article.text[start1:start2].strip() == first
    assert article.text[start2:] == second


def test_pdf_without_a_title_takes_its_first_line(tmp_path: Path) -> None:
    _write_pdf(tmp_path / "notat.pdf", ["Notat om tillid\nMedarbejderne skal vide, hvor rammerne går."])
    article = _only(*read_corpus(tmp_path))
    assert article.title == "Notat om tillid"
    assert article.text.startswith("Notat om tillid\n")  # page offsets point into the whole text


def test_pdf_without_a_text_layer_is_refused(tmp_path: Path) -> None:
    fig = plt.figure(figsize=(3, 3))
    fig.figimage(np.random.default_rng(0).random((120, 120)))  # a "scan": pixels only
    fig.savefig(tmp_path / "scan.pdf")
    plt.close(fig)
    assert _reasons(read_corpus(tmp_path)[1]) == {"scan.pdf": "no text layer (scanned PDF?)"}


def test_damaged_pdf_is_refused(tmp_path: Path) -> None:
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n%%EOF")
    assert "not a readable PDF" in _reasons(read_corpus(tmp_path)[1])["broken.pdf"]


# --- JSON Lines ---------------------------------------------------------------------------------


def test_jsonl_reads_good_lines_and_reports_broken_and_duplicate_ones(tmp_path: Path) -> None:
    rows = [
        json.dumps({"id": "a-1", "title": "Nærhed", "text": DANISH_BODY, "date": "2021-03-15"}),
        '{"id": "a-2", "title": "Halv linje", "text": "afbrudt',
        json.dumps({"id": "a-3", "title": "Uden tekst"}),
        "",
        json.dumps({"id": "a-1", "title": "Igen", "text": BOKMAL_BODY}),
        json.dumps(["ikke", "et", "objekt"]),
        json.dumps(
            {
                "id": "b:2",
                "title": "Nærhet",
                "text": BOKMAL_BODY,
                "lang": "nb",
                "url": "https://example.org/b",
            }
        ),
    ]
    (tmp_path / "artikler.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    articles, failures = read_corpus(tmp_path)
    assert [(a.id, a.title, a.lang) for a in articles] == [("a-1", "Nærhed", "da"), ("b-2", "Nærhet", "nb")]
    assert articles[0].date == "2021-03-15"
    assert articles[1].url == "https://example.org/b"
    assert all(a.source == "artikler.jsonl" for a in articles)
    reasons = _reasons(failures)
    assert set(reasons) == {"artikler.jsonl:2", "artikler.jsonl:3", "artikler.jsonl:5", "artikler.jsonl:6"}
    assert reasons["artikler.jsonl:2"].startswith("invalid JSON")
    assert reasons["artikler.jsonl:3"] == "missing 'text' (a string)"
    assert reasons["artikler.jsonl:5"] == "duplicate id 'a-1' (first on line 1)"
    assert reasons["artikler.jsonl:6"] == "not a JSON object"


def test_dev_document_file_reads_as_a_corpus() -> None:
    data = REPO.parent / "shared" / "data" / "ud-docs-nn.jsonl"
    if not data.is_file():
        pytest.skip("shared/data is not beside the clone")
    articles, failures = read_corpus(data)
    assert failures == []
    assert len(articles) == sum(1 for line in data.read_text(encoding="utf-8").splitlines() if line.strip())
    assert {a.lang for a in articles} == {"nn"}


# --- decoding and refusals ----------------------------------------------------------------------


def test_latin1_text_is_read(tmp_path: Path) -> None:
    (tmp_path / "gammel.txt").write_bytes(f"Nærhed og tillid\n\n{DANISH_BODY}".encode("latin-1"))
    article = _only(*read_corpus(tmp_path))
    assert article.title == "Nærhed og tillid"
    assert article.text == DANISH_BODY


def test_bom_and_windows_newlines_are_normalised(tmp_path: Path) -> None:
    (tmp_path / "win.txt").write_bytes(
        ("\ufeffNærhed\r\n\r\n" + DANISH_BODY.replace("\n", "\r\n")).encode("utf-8")
    )
    (tmp_path / "utf16.txt").write_bytes(f"Tillid\n\n{DANISH_BODY}".encode("utf-16"))
    articles, failures = read_corpus(tmp_path)
    assert failures == []
    assert [(a.title, a.text) for a in articles] == [("Tillid", DANISH_BODY), ("Nærhed", DANISH_BODY)]


def test_binary_file_renamed_to_txt_is_refused(tmp_path: Path) -> None:
    fig = plt.figure(figsize=(1, 1))
    fig.savefig(tmp_path / "billede.txt", format="png")
    plt.close(fig)
    assert _reasons(read_corpus(tmp_path)[1]) == {"billede.txt": "binary file, not text"}


def test_empty_and_whitespace_only_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "tom.txt").write_bytes(b"")
    (tmp_path / "luft.md").write_text("  \n\n\t\n", encoding="utf-8")
    (tmp_path / "kun-titel.txt").write_text("Bare en titel\n", encoding="utf-8")
    reasons = _reasons(read_corpus(tmp_path)[1])
    assert reasons == {
        "tom.txt": "empty article",
        "luft.md": "empty article",
        "kun-titel.txt": "empty article (only a title line)",
    }


def test_unsupported_file_type_names_the_supported_ones(tmp_path: Path) -> None:
    (tmp_path / "regneark.xlsx").write_bytes(b"PK\x03\x04")
    reason = _reasons(read_corpus(tmp_path)[1])["regneark.xlsx"]
    assert reason.startswith("unsupported file type .xlsx (supported: .txt, .md")
    assert ".pdf" in reason


def test_too_large_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest, "MAX_FILE_BYTES", 100)
    (tmp_path / "stor.txt").write_text(f"Titel\n\n{DANISH_BODY}", encoding="utf-8")
    assert "file too large" in _reasons(read_corpus(tmp_path)[1])["stor.txt"]


def test_hidden_files_and_folders_are_skipped(tmp_path: Path) -> None:
    (tmp_path / ".udkast.txt").write_text(f"Udkast\n\n{DANISH_BODY}", encoding="utf-8")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref: refs/heads/main\n", encoding="utf-8")
    (tmp_path / "synlig.txt").write_text(f"Synlig\n\n{DANISH_BODY}", encoding="utf-8")
    articles, failures = read_corpus(tmp_path)
    assert [a.id for a in articles] == ["synlig"]
    assert failures == []


def test_symlink_out_of_the_corpus_is_not_followed(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    secret = tmp_path / "hemmelig.txt"
    secret.write_text(f"Hemmelig\n\n{DANISH_BODY}", encoding="utf-8")
    (tmp_path / "udenfor").mkdir()
    os.symlink(secret, corpus / "link.txt")
    os.symlink(tmp_path / "udenfor", corpus / "mappe")
    os.symlink(corpus / "findes-ikke.txt", corpus / "død.txt")
    (corpus / "ægte.txt").write_text(f"Ægte\n\n{DANISH_BODY}", encoding="utf-8")
    os.symlink(corpus / "ægte.txt", corpus / "genvej.txt")
    articles, failures = read_corpus(corpus)
    assert sorted(a.id for a in articles) == ["genvej", "ægte"]
    assert _reasons(failures) == {
        "link.txt": "symlink outside the corpus",
        "mappe": "symlink outside the corpus",
        "død.txt": "broken symlink",
    }


# --- ids, hashes and the corpus path ------------------------------------------------------------


def test_two_files_with_the_same_id_keep_the_first(tmp_path: Path) -> None:
    (tmp_path / "nyhed.md").write_text(f"# Først\n\n{DANISH_BODY}", encoding="utf-8")
    (tmp_path / "nyhed.txt").write_text(f"Bagefter\n\n{DANISH_BODY}", encoding="utf-8")
    articles, failures = read_corpus(tmp_path)
    assert [a.source for a in articles] == ["nyhed.md"]
    assert _reasons(failures) == {"nyhed.txt": "duplicate article id 'nyhed' (already used by nyhed.md)"}


def test_ids_and_hashes_are_stable_across_runs_and_safe(tmp_path: Path) -> None:
    (tmp_path / "sub dir").mkdir()
    (tmp_path / "sub dir" / "Råd: om tillid.txt").write_text(f"Tillid\n\n{DANISH_BODY}", encoding="utf-8")
    (tmp_path / "b.txt").write_text(f"Nærhet\n\n{BOKMAL_BODY}", encoding="utf-8")
    first = read_corpus(tmp_path)[0]
    second = read_corpus(tmp_path)[0]
    assert [(a.id, a.content_hash) for a in first] == [(a.id, a.content_hash) for a in second]
    assert [a.id for a in first] == ["b", "sub-dir/Råd-om-tillid"]
    assert all(":" not in a.id and " " not in a.id for a in first)


def test_content_hash_follows_metadata_that_reaches_the_index(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text(f"Titel\n\n{DANISH_BODY}", encoding="utf-8")
    before = _only(*read_corpus(tmp_path))
    (tmp_path / "x.txt.meta.yaml").write_text("date: 2022-01-31\n", encoding="utf-8")
    after = _only(*read_corpus(tmp_path))
    assert after.text == before.text
    assert after.content_hash != before.content_hash
    assert len(after.content_hash) == 64


def test_missing_corpus_raises_a_corpus_error(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="does not exist"):
        read_corpus(tmp_path / "ingen")


def test_single_file_is_a_corpus(tmp_path: Path) -> None:
    (tmp_path / "en.txt").write_text(f"Én artikel\n\n{DANISH_BODY}", encoding="utf-8")
    (tmp_path / "en.txt.meta.yaml").write_text("lang: da\nurl: https://example.org/en\n", encoding="utf-8")
    (tmp_path / "anden.txt").write_text(f"Anden\n\n{DANISH_BODY}", encoding="utf-8")
    article = _only(*read_corpus(tmp_path / "en.txt"))
    assert (article.id, article.source, article.url) == ("en", "en.txt", "https://example.org/en")
