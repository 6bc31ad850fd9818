"""The real app in Debian's chromium: streamed answers, sources, admin upload, inert markup, axe."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from coiassist.config import Settings
from coiassist.embeddings import Embedder
from coiassist.indexer import index_corpus
from coiassist.ui_text import ui_text
from tests.conftest import REPO
from tests.test_ui import EVIL_QUESTION, _settings, launched, ui_corpus

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
AXE = REPO / ".cache/npm/node_modules/axe-core/axe.min.js"
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
TIMEOUT_MS = 60_000

if not CHROMIUM.exists():
    pytest.skip(
        "Debian's chromium is not installed (/usr/bin/chromium); run `make browser-deps`",
        allow_module_level=True,
    )

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[str]:
    root = tmp_path_factory.mktemp("browser")
    settings: Settings = _settings(root / "home", ui_corpus(root / "corpus"))
    index_corpus(settings)
    with launched(settings) as address:
        yield address


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any, url: str) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1100, "height": 1000}, locale="da-DK")
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.requests = []  # type: ignore[attr-defined]
    page.on("request", lambda request: page.requests.append(request.url))  # type: ignore[attr-defined]
    page.goto(url)
    page.locator("#question textarea").wait_for()
    try:
        yield page
    finally:
        context.close()


def ask(page: Any, question: str, expect: str) -> None:
    """Type a question, send it, and wait until the answer holds `expect` and the sources are there."""
    box = page.locator("#question textarea")
    box.fill(question)
    box.press("Enter")
    sync_api.expect(page.locator("#chat")).to_contain_text(expect, timeout=TIMEOUT_MS)
    sync_api.expect(page.locator("#backend-status")).not_to_be_empty(timeout=TIMEOUT_MS)


def shot(page: Any, name: str, full_page: bool = True) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=full_page)


def pick(page: Any, dropdown: str, option: str) -> None:
    page.locator(f"{dropdown} input").click()
    page.get_by_role("option", name=option).first.click()


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Serious and critical WCAG 2.1 A/AA violations axe-core finds on the page as it is now."""
    if not AXE.exists():
        pytest.skip("axe-core is not installed; run `make browser-deps`")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        """async () => await axe.run(document, {
            runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"""
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_danish_answer_streams_with_citation_highlight_and_whole_article(page: Any) -> None:
    assert page.evaluate("document.documentElement.lang") == "da"
    ask(page, "Hvor mange velfærdsinnovatører var samlet i Øksnehallen?", "500")
    chat = page.locator("#chat")
    sync_api.expect(chat).to_contain_text("Kilder")
    sync_api.expect(chat).to_contain_text(re.compile(r"\[\d\]"))
    sync_api.expect(chat.locator("mark").first).to_contain_text("500")
    sync_api.expect(page.locator("#backend-status")).to_contain_text(ui_text("da").backend_extractive)
    shot(page, "chat-da-answer.png", full_page=False)  # the README's screenshot (docs/screenshot-chat.png)
    pick(page, "#source-pick", "4 vigtige takeaways")
    article = page.locator("#article-view")
    sync_api.expect(article.locator("h3")).to_contain_text("4 vigtige takeaways")
    sync_api.expect(article.locator("blockquote mark").first).to_contain_text("500")
    sync_api.expect(article).to_contain_text("COI var at finde til Velfærdens Innovationsdag 2020")
    shot(page, "chat-da.png")
    found = axe_violations(page)
    assert found == []


def test_list_answer_shows_one_numbered_section_a_line(page: Any) -> None:
    ask(page, "Hvilke fire takeaways nævnes?", "Key note med Jocelyne Bourgon")
    shown = page.locator("#chat").inner_text()
    lines = [line.strip() for line in shown.splitlines()]
    first = next(i for i, line in enumerate(lines) if line.startswith("Åbningstale ved Social- og"))
    items = [line for line in lines[first:] if line][:4]
    assert [re.sub(r" \[\d+\]$", "", item) for item in items] == [
        "Åbningstale ved Social- og Indenrigsminister Astrid Krag (S)",
        "COI’s temaspor: Når politikere og bureaukrater sammen giver offentlig innovation flyvehøjde.",
        "Key note med Jocelyne Bourgon",
        "Løsningsgalleri: Borgerdesign og Borgersevice-to-go",
    ]


def test_norwegian_question_and_ui_language(page: Any) -> None:
    pick(page, "#ui-language", "Norsk (bokmål)")
    sync_api.expect(page.locator("#question textarea")).to_have_attribute(
        "placeholder", ui_text("nb").placeholder
    )
    assert page.evaluate("document.documentElement.lang") == "nb"
    sync_api.expect(page.get_by_role("tab", name=ui_text("nb").admin_tab)).to_be_visible()
    ask(page, "Hvor lenge har Asker kommune testet tillitsmodellen?", "tre år")
    chat = page.locator("#chat")
    sync_api.expect(chat).to_contain_text("Ifølge artiklene")
    sync_api.expect(chat.locator("mark").first).to_contain_text("tre år")
    sync_api.expect(page.locator("#backend-status")).to_contain_text(ui_text("nb").backend_extractive)
    shot(page, "chat-nb.png")
    page.locator("#new-conversation").click()
    sync_api.expect(chat).not_to_contain_text("tre år")


def test_markup_in_an_article_stays_inert(page: Any) -> None:
    ask(page, EVIL_QUESTION, "300")
    chat = page.locator("#chat")
    sync_api.expect(chat).to_contain_text("script")  # shown as text
    assert page.evaluate("window.__pwned") is None
    assert page.locator("img[src*='127.0.0.1:1']").count() == 0
    assert page.locator("img[src*='evil.example']").count() == 0
    assert page.locator("#chat script").count() == 0
    leaked = [u for u in page.requests if "127.0.0.1:1/" in u or "evil.example" in u]
    assert leaked == []
    shot(page, "chat-markup.png")


def test_upload_reindex_then_ask_about_the_new_article(page: Any, tmp_path: Path) -> None:
    article = tmp_path / "Robotter i Vejle.md"
    article.write_text(
        "# Robotter i Vejle\n\nVejle Kommune har købt 14 robotter til rengøring.\n", encoding="utf-8"
    )
    page.get_by_role("tab", name=ui_text("da").admin_tab).click()
    sync_api.expect(page.locator("#stats")).to_contain_text("Artikler")
    with page.expect_file_chooser() as chooser:
        page.locator("#upload-button").click()
    chooser.value.set_files(str(article))
    sync_api.expect(page.locator("#admin-result")).to_contain_text("1 tilføjet", timeout=TIMEOUT_MS)
    sync_api.expect(page.locator("#admin-result")).to_contain_text(ui_text("da").accepted)
    shot(page, "admin.png")
    found = axe_violations(page)
    assert found == []
    page.get_by_role("tab", name=ui_text("da").chat_tab).click()
    ask(page, "Hvor mange robotter har Vejle Kommune købt?", "14")
    sync_api.expect(page.locator("#chat")).to_contain_text("Robotter i Vejle")
