"""Read the corpus: every file becomes Articles, or ReadFailures that say what is wrong with it.

A corpus is a folder, read recursively in sorted path order, or a single file. Formats:

- `.txt`: the first non-empty line is the title and the rest is the text, unless the metadata
  (YAML front matter between `---` lines, or a sidecar) gives a title; see "Titles" below.
- `.md`/`.markdown`: the same, with YAML front matter as usual; a leading `# ` is not part of a title.
- `.html`/`.htm`: main text, title, date and canonical URL found by trafilatura (offline); scripts,
  iframes, menus, cookie banners and footers are left out.
- `.pdf`: the text layer, page by page (`Article.pages` keeps where each page starts); title from
  the PDF's metadata or its first line, date from its creation date. A PDF without a text layer
  (a scan) is refused: there is no OCR.
- `.jsonl`: one article per line, `{"id", "title", "text"}` plus optional `url`, `date`, `lang`
  (without a title, the text's first line is the title and stays in the text). A broken line is
  reported as `file.jsonl:LINE` and the other lines are still read.

Sidecar metadata: `<file name>.meta.yaml` beside any non-JSONL article file (for `rapport.txt`,
`rapport.txt.meta.yaml`) lets an editor keep title, lang, date, url and id without touching the
article's text. It wins over front matter, which wins over what is found in the file. Unknown keys
in a sidecar are an error (a misspelt key would otherwise be silently ignored); a sidecar whose
article file is missing is reported too.

Titles: when the metadata gives a title and the text's first non-empty line is that same title,
the line is the title line and is left out of the text; when it is not, the whole file is the
text. So a file that opens with its headline and one that has none both work with a sidecar title.

Article ids: the front matter's/sidecar's `id`, or the file's path relative to the corpus root
without its extension (`nyheder/Velfærd og nærhed.md` → `nyheder/Velfærd-og-nærhed`), or the
JSONL `id`. Every character other than letters, digits, `_`, `-`, `.` and `/` becomes `-`, so an id
never holds `:` (chunk ids are `article_id:n`) or spaces. Ids are stable across runs; a second
article with an id already taken is refused, naming the first.

Language: `lang` from the metadata (da, nb, nn; `no` means nb), else detected from the text.
Decoding: UTF-8 (a BOM is dropped; UTF-16 with a BOM is read too); text that is not UTF-8 but
looks like legacy Windows/Latin-1 text is read as cp1252 or Latin-1 and logged; binary files are
refused. Text is NFC-normalised, with `\\n` newlines, no trailing spaces on lines and no blank lines
at either end; otherwise it is kept as read, because chunk spans point into it.
Skipped silently: hidden files and folders (`.name`) and sidecars. Symlinks that lead outside the
corpus are refused; symlinked folders inside it are not followed (their files are read where they
are). Limits: files over 50 MB and articles over 2,000,000 characters of text are refused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

import pypdf
import trafilatura
import yaml
from pypdf.errors import PyPdfError
from trafilatura.settings import Document

from coiassist.errors import CorpusError
from coiassist.language import detect_language
from coiassist.models import Article, ReadFailure

log = logging.getLogger(__name__)

TEXT_SUFFIXES = (".txt", ".md", ".markdown")
HTML_SUFFIXES = (".html", ".htm")
SUPPORTED_SUFFIXES = (*TEXT_SUFFIXES, *HTML_SUFFIXES, ".pdf", ".jsonl")
SIDECAR_SUFFIX = ".meta.yaml"
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_TEXT_CHARS = 2_000_000

_META_KEYS = ("title", "lang", "date", "url", "id")
_LANG_ALIASES = {
    "da": "da",
    "dan": "da",
    "nb": "nb",
    "nob": "nb",
    "no": "nb",
    "nor": "nb",
    "nn": "nn",
    "nno": "nn",
}
_UNSAFE_ID = re.compile(r"[^\w.\-/]+")
_TRAILING_SPACE = re.compile(r"[ \t\f\v]+$", re.MULTILINE)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_ISO_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[T ].*)?$")
_PDF_DATE = re.compile(r"^D:(\d{4})(\d{2})(\d{2})")
# Page-level menus and footers: trafilatura's fallback extractors keep them on short pages.
_PAGE_CHROME = ["//nav", "//footer", "//aside", "//body/header", "//*[@role='navigation']"]
# PDF titles that are really the name of the file it was exported from.
_FILE_NAME_TITLE = re.compile(
    r"^(microsoft (word|powerpoint) - .*|.*\.(docx?|pptx?|odt|pdf|indd)|untitled)$", re.I
)


class _Unreadable(Exception):  # noqa: N818 - never leaves this module; becomes a ReadFailure
    """Why one file or line cannot become an article."""


@dataclass(frozen=True)
class _Meta:
    """Metadata from a sidecar or front matter; empty strings mean "not given"."""

    title: str = ""
    lang: str = ""
    date: str = ""
    url: str = ""
    id: str = ""

    def over(self, other: _Meta) -> _Meta:
        """These values where given, `other`'s elsewhere."""
        return _Meta(*(getattr(self, k) or getattr(other, k) for k in _META_KEYS))


def read_corpus(path: Path) -> tuple[list[Article], list[ReadFailure]]:
    """Every article in a corpus folder or file, and every file or line that could not be read."""
    if not path.exists():
        raise CorpusError(f"corpus {path} does not exist; set `corpus` to a folder or file of articles")
    if path.is_dir():
        root = path
        files = _walk(root)
    elif path.is_file():
        root = path.parent
        files = iter([path])
    else:
        raise CorpusError(f"corpus {path} is neither a folder nor a file")

    articles: list[Article] = []
    failures: list[ReadFailure] = []
    taken: dict[str, str] = {}
    for item in files:
        if isinstance(item, ReadFailure):
            failures.append(item)
            continue
        found, failed = read_file(item, root)
        failures.extend(failed)
        for article in found:
            if article.id in taken:
                failures.append(
                    ReadFailure(
                        article.source,
                        f"duplicate article id {article.id!r} (already used by {taken[article.id]})",
                    )
                )
                continue
            taken[article.id] = article.source
            articles.append(article)
    return articles, failures


def read_file(path: Path, root: Path) -> tuple[list[Article], list[ReadFailure]]:
    """The articles of one file below `root` (a JSONL file may hold many) and what failed in it."""
    rel = path.relative_to(root).as_posix()
    suffix = path.suffix.lower()
    try:
        if suffix not in SUPPORTED_SUFFIXES:
            raise _Unreadable(
                f"unsupported file type {suffix or '(none)'} (supported: {', '.join(SUPPORTED_SUFFIXES)})"
            )
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise _Unreadable(
                f"file too large ({size / 1e6:.1f} MB; the limit is {MAX_FILE_BYTES / 1e6:.0f} MB)"
            )
        data = path.read_bytes()
        if suffix == ".jsonl":
            return _read_jsonl(data, rel)
        sidecar = _read_sidecar(path)
        if suffix in TEXT_SUFFIXES:
            article = _read_text(data, rel, sidecar, markdown=suffix != ".txt")
        elif suffix in HTML_SUFFIXES:
            article = _read_html(data, rel, sidecar)
        else:
            article = _read_pdf(data, rel, sidecar)
    except _Unreadable as exc:
        return [], [ReadFailure(rel, str(exc))]
    except OSError as exc:
        return [], [ReadFailure(rel, f"cannot read the file: {exc.strerror or exc}")]
    return [article], []


def article_id(raw: str) -> str:
    """An id safe inside chunk ids (`id:n`) and Chroma ids, kept readable."""
    slug = _UNSAFE_ID.sub("-", unicodedata.normalize("NFC", raw))
    slug = re.sub(r"-{2,}", "-", re.sub(r"/{2,}", "/", slug)).strip("-./")
    if not slug:
        raise _Unreadable(f"no usable article id in {raw!r}")
    return slug


def content_hash(article_fields: dict[str, Any]) -> str:
    """sha256 of everything about an article that reaches the index."""
    blob = json.dumps(article_fields, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _walk(root: Path) -> Iterator[Path | ReadFailure]:
    """Files below root in sorted order, hidden files, sidecars and folder symlinks left out."""
    real_root = root.resolve()
    found: list[Path | ReadFailure] = []
    sidecars: set[Path] = set()
    articles: set[Path] = set()
    for dirpath, dirnames, filenames in os.walk(root):
        folder = Path(dirpath)
        kept_dirs = []
        for name in dirnames:
            if name.startswith("."):
                continue
            if (folder / name).is_symlink():
                if not _inside(folder / name, real_root):
                    found.append(ReadFailure(_rel(folder / name, root), "symlink outside the corpus"))
                continue
            kept_dirs.append(name)
        dirnames[:] = kept_dirs  # os.walk descends only into these
        for name in filenames:
            path = folder / name
            if name.startswith("."):
                continue
            if name.endswith(SIDECAR_SUFFIX):
                sidecars.add(path)
                continue
            if path.is_symlink():
                if not path.exists():
                    found.append(ReadFailure(_rel(path, root), "broken symlink"))
                    continue
                if not _inside(path, real_root):
                    found.append(ReadFailure(_rel(path, root), "symlink outside the corpus"))
                    continue
            articles.add(path)
            found.append(path)
    for sidecar in sidecars:
        if sidecar.with_name(sidecar.name.removesuffix(SIDECAR_SUFFIX)) not in articles:
            found.append(ReadFailure(_rel(sidecar, root), "sidecar without its article file"))
    yield from sorted(found, key=lambda x: x.path if isinstance(x, ReadFailure) else _rel(x, root))


def _inside(path: Path, real_root: Path) -> bool:
    return path.resolve().is_relative_to(real_root)


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _decode(data: bytes, rel: str) -> str:
    """Bytes to text: UTF-8 (or UTF-16 with a BOM), else legacy 8-bit text, never binary."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise _Unreadable("broken UTF-16 text") from None
    sample = data[:65536]
    controls = sum(1 for b in sample if b < 32 and b not in b"\t\n\r\f")
    if b"\x00" in sample or controls > len(sample) * 0.05:
        raise _Unreadable("binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    for encoding in ("cp1252", "latin-1"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _looks_like_text(text):
            log.info("%s is not UTF-8; read it as %s", rel, encoding)
            return text
    raise _Unreadable("not UTF-8 and does not look like Latin-1/cp1252 text either")


def _looks_like_text(text: str) -> bool:
    """Legacy Nordic text has letters (æøå) where invalid UTF-8 shows up, not symbols and C1 codes."""
    odd = [c for c in text if ord(c) > 127]
    letters = sum(1 for c in odd if c.isalpha() or c in "«»–—‘’“”…€§°½´¨·©®±")
    return letters >= 0.8 * len(odd)


def _normalize(text: str) -> str:
    """NFC, \\n newlines, no trailing blanks on lines or blank lines at the ends, no control codes."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _CONTROL.sub("", _TRAILING_SPACE.sub("", text))
    return text.strip("\n")


def _front_matter(text: str) -> tuple[dict[str, Any], str]:
    """YAML front matter (`---` ... `---`) and the body after it; no front matter gives ({}, text)."""
    if not text.startswith("---\n"):
        return {}, text
    end = re.search(r"^(?:---|\.\.\.)[ \t]*$", text[4:], re.MULTILINE)
    if end is None:
        raise _Unreadable("front matter starts with --- but has no closing --- line")
    header = _load_yaml(text[4 : 4 + end.start()], "front matter")
    return header, text[4 + end.end() :].lstrip("\n")


def _load_yaml(source: str, what: str) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(source)
    except ValueError as exc:  # a well-formed but impossible value, such as the date 2020-02-30
        raise _Unreadable(f"invalid value in the {what}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise _Unreadable(f"invalid YAML in the {what}{where}: {getattr(exc, 'problem', exc)}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise _Unreadable(f"the {what} is not a YAML mapping of keys to values")
    return loaded


def _read_sidecar(path: Path) -> _Meta:
    sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
    if not sidecar.is_file():
        return _Meta()
    data = _load_yaml(_decode(sidecar.read_bytes(), sidecar.name), f"sidecar {sidecar.name}")
    unknown = sorted(str(k) for k in data if k not in _META_KEYS)
    if unknown:
        raise _Unreadable(
            f"unknown key {', '.join(unknown)} in sidecar {sidecar.name} (known: {', '.join(_META_KEYS)})"
        )
    return _meta(data)


def _meta(data: dict[str, Any]) -> _Meta:
    """Checked metadata from a mapping; keys other than ours are ignored (front matter has many)."""

    def text(key: str) -> str:
        value = data.get(key)
        if value is None:
            return ""
        if isinstance(value, dt.date):  # YAML reads 2020-02-27 as a date
            return value.isoformat()[:10]
        return " ".join(str(value).split())

    return _Meta(
        title=text("title"),
        lang=_language(text("lang")) if text("lang") else "",
        date=_iso_date(text("date")) if text("date") else "",
        url=_url(text("url")),
        id=article_id(text("id")) if text("id") else "",
    )


def _language(value: str) -> str:
    code = _LANG_ALIASES.get(value.lower().replace("_", "-").split("-")[0])
    if code is None:
        raise _Unreadable(f"language {value!r} is not supported (use da, nb or nn)")
    return code


def _iso_date(value: str) -> str:
    match = _ISO_DATE.match(value)
    if match is None:
        raise _Unreadable(f"date {value!r} is not an ISO date (YYYY-MM-DD)")
    try:
        return dt.date.fromisoformat(match.group(1)).isoformat()
    except ValueError:
        raise _Unreadable(f"date {value!r} is not a real day") from None


def _url(value: str) -> str:
    # The UI shows the url as a link: only web addresses, never javascript: or file: ones.
    if value and not value.lower().startswith(("http://", "https://")):
        raise _Unreadable(f"url {value!r} must start with http:// or https://")
    return value


def _split_title(body: str, title: str, markdown: bool) -> tuple[str, str]:
    """(title, text): the given title, or the first non-empty line; a title line leaves the text."""
    first, _, rest = body.partition("\n")
    heading = " ".join((first.lstrip("#").strip() if markdown else first).split())
    if not title:
        return heading, rest.lstrip("\n")
    if heading == title:
        return title, rest.lstrip("\n")
    return title, body


def _read_text(data: bytes, rel: str, sidecar: _Meta, markdown: bool) -> Article:
    raw = _decode(data, rel)
    header, body = _front_matter(raw.replace("\r\n", "\n").replace("\r", "\n"))
    meta = sidecar.over(_meta(header))
    title, text = _split_title(_normalize(body), meta.title, markdown)
    return _article(rel, meta, title, text, default_id=_without_suffix(rel))


def _without_suffix(rel: str) -> str:
    return rel.removesuffix(Path(rel).suffix)


def _read_html(data: bytes, rel: str, sidecar: _Meta) -> Article:
    html = _decode(data, rel)
    # trafilatura only parses the string it is given; it fetches nothing.
    doc = trafilatura.bare_extraction(
        html,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        include_images=False,
        prune_xpath=_PAGE_CHROME,
    )
    if not isinstance(doc, Document) or not (doc.text or "").strip():
        raise _Unreadable("empty article (no main text found in the HTML page)")
    url = doc.url or ""
    found = _Meta(
        title=" ".join((doc.title or "").split()),
        date=doc.date or "",
        url=url if url.lower().startswith(("http://", "https://")) else "",
    )
    meta = sidecar.over(found)
    title, text = _split_title(_normalize(doc.text or ""), meta.title, markdown=False)
    return _article(rel, meta, title, text, default_id=_without_suffix(rel))


def _read_pdf(data: bytes, rel: str, sidecar: _Meta) -> Article:
    try:
        reader = pypdf.PdfReader(BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise _Unreadable("encrypted PDF (it needs a password)")
        parts: list[str] = []
        pages: list[tuple[int, int]] = []
        offset = 0
        for number, page in enumerate(reader.pages, start=1):
            page_text = _normalize(page.extract_text() or "")
            if not page_text.strip():
                continue
            if parts:
                offset += 2  # the blank line that joins pages
            pages.append((number, offset))
            parts.append(page_text)
            offset += len(page_text)
        info: dict[str, Any] = dict(reader.metadata or {})
        title = " ".join(str(info.get("/Title") or "").split())
        created = _PDF_DATE.match(str(info.get("/CreationDate") or ""))
    # pypdf raises plain ValueError/KeyError/TypeError on some damaged files, not only its own errors.
    except (PyPdfError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise _Unreadable(f"not a readable PDF: {exc}") from None
    if not parts:
        raise _Unreadable("no text layer (scanned PDF?)")
    text = "\n\n".join(parts)
    found = _Meta(
        title="" if _FILE_NAME_TITLE.match(title) else title,
        date="-".join(created.groups()) if created else "",
    )
    meta = sidecar.over(found)
    # The text stays whole (page offsets point into it); only a missing title comes from line one.
    title = meta.title or " ".join(text.partition("\n")[0].split())
    return _article(rel, meta, title, text, default_id=_without_suffix(rel), pages=tuple(pages))


def _read_jsonl(data: bytes, rel: str) -> tuple[list[Article], list[ReadFailure]]:
    articles: list[Article] = []
    failures: list[ReadFailure] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(_decode(data, rel).splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{rel}:{lineno}"
        try:
            row = json.loads(line)
            if not isinstance(row, dict):
                raise _Unreadable("not a JSON object")
            if not isinstance(row.get("id"), str | int) or not str(row["id"]).strip():
                raise _Unreadable("missing or empty 'id'")
            if not isinstance(row.get("text"), str):
                raise _Unreadable("missing 'text' (a string)")
            meta = _meta({k: row.get(k) for k in _META_KEYS})
            text = _normalize(row["text"])
            title = meta.title or " ".join(text.partition("\n")[0].split())
            article = _article(rel, meta, title, text, default_id=str(row["id"]))
        except json.JSONDecodeError as exc:
            failures.append(ReadFailure(where, f"invalid JSON: {exc.msg} (column {exc.colno})"))
            continue
        except _Unreadable as exc:
            failures.append(ReadFailure(where, str(exc)))
            continue
        if article.id in seen:
            failures.append(
                ReadFailure(where, f"duplicate id {article.id!r} (first on line {seen[article.id]})")
            )
            continue
        seen[article.id] = lineno
        articles.append(article)
    if not articles and not failures:  # like an empty .txt: say so rather than skip it unseen
        failures.append(ReadFailure(rel, "empty file: no JSON lines"))
    return articles, failures


def _article(
    rel: str, meta: _Meta, title: str, text: str, *, default_id: str, pages: tuple[tuple[int, int], ...] = ()
) -> Article:
    if not text.strip():
        raise _Unreadable("empty article" + (" (only a title line)" if title else ""))
    if len(text) > MAX_TEXT_CHARS:
        raise _Unreadable(f"text too long ({len(text):,} characters; the limit is {MAX_TEXT_CHARS:,})")
    ident = meta.id or article_id(default_id)
    lang = meta.lang or detect_language(f"{title}\n{text}")
    fields = {
        "title": title,
        "text": text,
        "lang": lang,
        "date": meta.date,
        "url": meta.url,
        "source": rel,
        "pages": [list(p) for p in pages],
    }
    return Article(
        id=ident,
        title=title,
        text=text,
        lang=lang,
        content_hash=content_hash(fields),
        source=rel,
        url=meta.url,
        date=meta.date,
        pages=pages,
    )
