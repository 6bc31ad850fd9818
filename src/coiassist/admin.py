"""What the admin tab does, without Gradio: take uploads in, delete articles, re-index.

Uploads are untrusted: a client's file name never becomes a path (files are stored as
`uploads/upload-<uuid>.<ext>` inside the corpus), type and size are checked here on the server,
and every file is parsed in a staging folder before it may enter the corpus. Refusals carry a
short code that the UI explains in the user's language, plus the technical detail.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import logging
import os
import queue
import shutil
import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath

from coiassist.config import Settings
from coiassist.errors import AuthError
from coiassist.indexer import IndexReport, Progress, index_corpus
from coiassist.ingest import SIDECAR_SUFFIX, SUPPORTED_SUFFIXES, read_file
from coiassist.retrieval import Retriever

log = logging.getLogger(__name__)

UPLOAD_DIR = "uploads"
# A re-index from the admin tab embeds at this nice value (so do the torch threads it starts):
# on two cores the chat then keeps its share and answers promptly while the index is built.
REINDEX_NICE = 10


@dataclass(frozen=True)
class Accepted:
    name: str  # as the client called it (for display only)
    stored: str  # path inside the corpus, e.g. uploads/upload-<uuid>.md
    titles: tuple[str, ...]


@dataclass(frozen=True)
class Rejected:
    name: str
    code: str  # bad_name, bad_type, too_large, too_many, empty, unreadable, duplicate_id, not_a_folder
    detail: str = ""


@dataclass
class UploadReport:
    accepted: list[Accepted] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


def is_loopback(host: str) -> bool:
    """Does binding to `host` keep the server on this machine?"""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere


def admin_enabled(settings: Settings) -> bool:
    """Admin needs a password once the server is reachable from other machines."""
    return bool(settings.admin_password) or is_loopback(settings.host)


def check_admin(settings: Settings, password: str) -> None:
    """Raise AuthError unless admin is on and `password` is right (when one is set)."""
    if not admin_enabled(settings):
        raise AuthError("admin is off: the server is bound to a non-local address without admin_password")
    if settings.admin_password and not hmac.compare_digest(
        (password or "").encode("utf-8"), settings.admin_password.encode("utf-8")
    ):
        raise AuthError("wrong or missing admin password")


def upload_suffix(name: str) -> str | None:
    """The allowed, lower-case extension of a client file name, or None for a name we refuse.

    Names with NUL bytes, path separators leading out (`..`), or absolute/drive forms are refused
    outright rather than cleaned: a client that sends them is not uploading an article.
    """
    if not name or "\x00" in name or len(name) > 255:
        return None
    for pure in (PurePosixPath(name), PureWindowsPath(name)):
        if pure.is_absolute() or pure.drive or pure.root or ".." in pure.parts:
            return None
    base = PureWindowsPath(name).name  # splits on both / and \
    suffix = PurePosixPath(base).suffix.lower()
    return suffix if suffix in SUPPORTED_SUFFIXES else ""


def save_uploads(
    settings: Settings, files: Sequence[tuple[str, Path]], known_ids: Iterable[str] = ()
) -> UploadReport:
    """Validate (name shown to the user, temp file) pairs and move the good ones into the corpus.

    `known_ids` are the article ids already indexed; an upload that would reuse one is refused,
    because the index would then skip one of the two as a duplicate.
    """
    report = UploadReport()
    corpus = settings.corpus
    if not corpus.is_dir():
        report.rejected.extend(Rejected(name, "not_a_folder", str(corpus)) for name, _ in files)
        return report
    if len(files) > settings.max_uploads:
        detail = f"{len(files)} files; the limit is {settings.max_uploads}"
        report.rejected.extend(Rejected(name, "too_many", detail) for name, _ in files)
        return report
    taken = set(known_ids)
    staging_root = settings.home / "upload-staging"
    for name, path in files:
        rejected = _precheck(settings, name, path)
        if rejected:
            report.rejected.append(rejected)
            continue
        suffix = upload_suffix(name) or ""
        stored = f"{UPLOAD_DIR}/upload-{uuid.uuid4().hex}{suffix}"
        # Parse under the same relative path the file will have in the corpus, so the article ids
        # checked here are the ids the index will see.
        stage = staging_root / uuid.uuid4().hex
        staged = stage / stored
        try:
            staged.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, staged)
            articles, failures = read_file(staged, stage)
            if failures or not articles:
                reasons = "; ".join(f.reason for f in failures[:3]) or "no article found"
                report.rejected.append(Rejected(name, "unreadable", reasons))
                continue
            clashes = sorted({a.id for a in articles} & taken)
            if clashes:
                report.rejected.append(Rejected(name, "duplicate_id", ", ".join(clashes[:5])))
                continue
            target = corpus / stored
            if not target.parent.resolve().is_relative_to(corpus.resolve()):
                report.rejected.append(
                    Rejected(name, "bad_name", "the upload folder leads outside the corpus")
                )
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(staged, target)
            taken.update(a.id for a in articles)
            report.accepted.append(Accepted(name, stored, tuple(a.title for a in articles)))
            log.info("upload %r stored as %s (%d articles)", name, stored, len(articles))
        finally:
            shutil.rmtree(stage, ignore_errors=True)
    return report


def _precheck(settings: Settings, name: str, path: Path) -> Rejected | None:
    suffix = upload_suffix(name)
    if suffix is None:
        return Rejected(name, "bad_name")
    if not suffix:
        return Rejected(name, "bad_type", f"allowed: {', '.join(SUPPORTED_SUFFIXES)}")
    if path.is_symlink() or not path.is_file():
        return Rejected(name, "unreadable", "not a regular file")
    size = path.stat().st_size
    limit = settings.max_upload_mb * 1024 * 1024
    if size > limit:
        return Rejected(name, "too_large", f"{size / 1e6:.1f} MB; the limit is {settings.max_upload_mb} MB")
    if size == 0:
        return Rejected(name, "empty")
    return None


def deletable_articles(retriever: Retriever) -> list[tuple[str, str, str]]:
    """(article id, title, source file) of every indexed article, by title."""
    rows = retriever.articles()
    return sorted(((row.id, row.title, row.source) for row in rows), key=lambda r: (r[1].lower(), r[0]))


def delete_source(settings: Settings, source: str) -> str:
    """Delete an article's file (and its sidecar) from the corpus; "" when done, else a refusal code.

    `source` is the article's path relative to the corpus, as the index recorded it. A JSONL file
    holds many articles, so it is never deleted for one of them.
    """
    corpus = settings.corpus
    if not corpus.is_dir():
        return "not_a_folder"
    root = corpus.resolve()
    target = corpus / source
    if "\x00" in source or not target.resolve().is_relative_to(root) or target.is_symlink():
        return "outside"
    if target.suffix.lower() == ".jsonl":
        return "bulk_file"
    if not target.is_file():
        return "missing"
    target.unlink()
    target.with_name(target.name + SIDECAR_SUFFIX).unlink(missing_ok=True)
    log.info("deleted %s from the corpus", source)
    return ""


def reindex(settings: Settings, retriever: Retriever | None, progress: Progress | None = None) -> IndexReport:
    """Incremental re-index in this process; the chat reads the old snapshot until it publishes.

    The work runs in a thread of its own at lower CPU priority (REINDEX_NICE); its progress is
    reported from the calling thread, and its errors are raised there.
    """
    updates: queue.Queue[tuple[int, int, str] | None] = queue.Queue()
    outcome: dict[str, IndexReport | BaseException] = {}

    def work() -> None:
        with contextlib.suppress(OSError, AttributeError):  # not Linux, or not allowed: run as is
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), REINDEX_NICE)
        try:
            outcome["report"] = index_corpus(settings, progress=lambda *step: updates.put(step))
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc
        finally:
            updates.put(None)

    worker = threading.Thread(target=work, name="coiassist-reindex", daemon=True)
    worker.start()
    while (step := updates.get()) is not None:
        if progress is not None:
            progress(*step)
    worker.join()
    error = outcome.get("error")
    if isinstance(error, BaseException):
        raise error
    if retriever is not None:
        retriever.refresh()
    report = outcome["report"]
    assert isinstance(report, IndexReport)
    return report
