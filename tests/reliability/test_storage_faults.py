"""A damaged, full or read-only index gives a clear message and a documented way back.

The recovery for damage is `coiassist index --rebuild` (the index is derived from the articles),
except for vector files Chroma cannot load, which a run killed while Chroma wrote them leaves
behind: a plain `coiassist index` repairs those. A full disk or a read-only folder leaves the
published index serving until space or permission is back, and then a plain `coiassist index`
carries on.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from coiassist.config import Settings
from coiassist.errors import IndexCorruptError, IndexStoreError
from coiassist.indexer import index_corpus
from coiassist.retrieval import Retriever
from coiassist.snapshot import Pointer, open_snapshot
from coiassist.vectors import forget_clients
from tests.index_helpers import IndexState, assert_consistent, index_state
from tests.reliability.helpers import assert_one_line_error, cli_env, run_cli, write_articles

pytestmark = pytest.mark.reliability

SMALL = {"chunk_tokens": 40, "chunk_overlap_tokens": 10}
QUERY = "tillitsreform i offentlig sektor"


def _garbage(path: Path) -> None:
    path.write_bytes(b"\x00garbage, not what was written\xff" * 64)


def _snapshot(settings: Settings) -> Path:
    return open_snapshot(settings.index_dir)[1]


def _live_catalog(settings: Settings) -> Path:
    pointer = Pointer.read(settings.index_dir)
    assert pointer is not None
    return settings.index_dir / f"catalog-{pointer.collection}.sqlite"


def _rewrite_current(settings: Settings, **changes: str) -> None:
    path = settings.index_dir / "CURRENT"
    data = json.loads(path.read_text(encoding="utf-8"))
    data.update(changes)
    path.write_text(json.dumps(data), encoding="utf-8")


# name → (damage, what a reader gets: "snapshot" = every query refused, "dense" = dense refused)
DAMAGE: dict[str, tuple[Callable[[Settings], None], str]] = {
    "chroma folder deleted": (lambda s: shutil.rmtree(s.index_dir / "chroma"), "dense"),
    "chroma database overwritten": (lambda s: _garbage(s.index_dir / "chroma" / "chroma.sqlite3"), "dense"),
    "lexical file overwritten": (
        lambda s: (
            [_garbage(p) for p in (_snapshot(s) / "lexical").iterdir() if p.suffix == ".json"][:1] and None
        ),
        "snapshot",
    ),
    "lexical folder deleted": (lambda s: shutil.rmtree(_snapshot(s) / "lexical"), "snapshot"),
    "published chunks overwritten": (lambda s: _garbage(_snapshot(s) / "chunks.sqlite"), "snapshot"),
    "CURRENT is not JSON": (
        lambda s: (s.index_dir / "CURRENT").write_text("{half a fi", "utf-8"),
        "snapshot",
    ),
    "CURRENT names a missing snapshot": (lambda s: _rewrite_current(s, snapshot="coi-gone-v9-1"), "snapshot"),
    "CURRENT names a missing collection": (
        lambda s: _rewrite_current(s, collection="coi-gone-00000000"),
        "dense",
    ),
    "catalog overwritten": (lambda s: _garbage(_live_catalog(s)), "none"),
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, IndexState]]:
    """A corpus and one healthy index of it, copied for each test to damage."""
    root = tmp_path_factory.mktemp("storage")
    corpus = root / "corpus"
    write_articles(corpus, range(12))
    settings = _settings(root / "golden", corpus)
    index_corpus(settings, corpus)
    forget_clients()
    yield corpus, settings.home, index_state(settings)


def _settings(home: Path, corpus: Path) -> Settings:
    from coiassist.config import load_settings

    return load_settings({"home": home, "corpus": corpus, **SMALL}, config_file=home / "none.toml")


def _copy(built: tuple[Path, Path, IndexState], home: Path) -> Settings:
    corpus, golden, _ = built
    shutil.copytree(golden, home)
    forget_clients()
    return _settings(home, corpus)


@pytest.mark.parametrize("case", list(DAMAGE))
def test_damage_is_reported_never_served_and_rebuild_repairs_it(
    case: str, built: tuple[Path, Path, IndexState], tmp_path: Path
) -> None:
    settings = _copy(built, tmp_path / "home")
    damage, effect = DAMAGE[case]
    damage(settings)
    forget_clients()

    if effect == "snapshot":
        with pytest.raises(IndexCorruptError, match="coiassist index --rebuild"):
            Retriever(settings).search(QUERY)
    else:
        retriever = Retriever(settings)
        published = {c[0]: c[3] for c in built[2].chunks}
        # BM25 from the intact snapshot still answers correctly; it never serves stray text
        for passage in retriever.search(QUERY, k=5, mode="bm25" if effect == "dense" else "hybrid"):
            assert published[passage.chunk_id] == passage.text
        if effect == "dense":
            with pytest.raises(IndexStoreError, match="coiassist index"):
                retriever.search(QUERY, k=5, mode="dense")

    report = index_corpus(settings, settings.corpus, rebuild=True)
    assert report.chunks_total == len(built[2].chunks)
    forget_clients()
    state = index_state(settings)
    assert_consistent(state)
    assert state == built[2]
    assert Retriever(settings).search(QUERY, k=3, mode="dense")


@pytest.fixture(scope="module")
def built_with_vector_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, IndexState]:
    """An index of ~1,150 chunks: enough that Chroma writes its HNSW files (it does every 1,000)."""
    root = tmp_path_factory.mktemp("vector-files")
    corpus = root / "corpus"
    write_articles(corpus, range(240))
    settings = _settings(root / "golden", corpus)
    index_corpus(settings, corpus)
    forget_clients()
    assert list((settings.index_dir / "chroma").glob("*/header.bin")), "Chroma wrote no vector files"
    return corpus, settings.home, index_state(settings)


def _cut_in_half(path: Path) -> None:
    with path.open("r+b") as f:
        f.truncate(path.stat().st_size // 2)


@pytest.mark.parametrize(
    "vector_file",
    [
        "data_level0.bin",  # our check refuses it before hnswlib reads it without complaint
        "index_metadata.pickle",  # our check passes it; Chroma fails to load it
    ],
)
def test_vector_files_cut_short_are_refused_and_a_plain_index_run_repairs_them(
    vector_file: str, built_with_vector_files: tuple[Path, Path, IndexState], tmp_path: Path
) -> None:
    """What a run killed while Chroma wrote its files leaves behind (the kill-loop test sees it)."""
    settings = _copy(built_with_vector_files, tmp_path / "home")
    header = next((settings.index_dir / "chroma").glob("*/header.bin"))
    _cut_in_half(header.with_name(vector_file))
    published = {c[0]: c[3] for c in built_with_vector_files[2].chunks}

    retriever = Retriever(settings)
    passages = retriever.search(QUERY, k=3)  # hybrid answers from BM25 alone
    assert passages and all(published[p.chunk_id] == p.text for p in passages)
    with pytest.raises(IndexCorruptError, match="run `coiassist index`"):
        retriever.search(QUERY, k=3, mode="dense")
    # What the user sees, in fresh processes: answers with a warning, and the cure.
    env = cli_env(settings.home)
    found = run_cli(["search", "--json", QUERY], env)
    assert found.returncode == 0 and json.loads(found.stdout)["results"], found.stderr
    assert "answering from BM25 alone" in found.stderr
    assert_one_line_error(run_cli(["search", "--mode", "dense", QUERY], env), "run `coiassist index`")
    stats = run_cli(["stats"], env)
    assert stats.returncode == 0 and "vectors:      the vector" in stats.stdout, stats.stdout

    report = index_corpus(settings, settings.corpus)  # no --rebuild
    assert report.chunks_embedded == 0  # the catalog's copies of the vectors went back in
    assert list(settings.index_dir.glob("chroma.broken-*")), "the damaged folder is kept aside"
    forget_clients()
    state = index_state(settings)
    assert_consistent(state)
    assert state == built_with_vector_files[2]
    assert retriever.refresh(), "the repair publishes a new snapshot, so running readers reload"
    assert retriever.search(QUERY, k=3, mode="dense")


def test_cli_names_the_damage_and_its_cure_then_rebuilds(
    built: tuple[Path, Path, IndexState], tmp_path: Path
) -> None:
    """In fresh processes: one `error:` line naming `--rebuild`, then `index --rebuild` works."""
    settings = _copy(built, tmp_path / "home")
    _garbage(settings.index_dir / "chroma" / "chroma.sqlite3")
    _garbage(_snapshot(settings) / "chunks.sqlite")
    env = cli_env(settings.home)
    assert_one_line_error(run_cli(["search", "--json", QUERY], env), "--rebuild")
    assert_one_line_error(run_cli(["ask", QUERY], env), "--rebuild")
    assert_one_line_error(run_cli(["index", "--corpus", str(settings.corpus)], env), "--rebuild")

    rebuilt = run_cli(["index", "--rebuild", "--json", "--corpus", str(settings.corpus)], env)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "Traceback" not in rebuilt.stderr
    assert list(settings.index_dir.glob("chroma.broken-*")), "the broken folder is kept aside"
    forget_clients()
    assert index_state(settings) == built[2]
    found = run_cli(["search", "--json", "--mode", "dense", QUERY], env)
    assert found.returncode == 0 and json.loads(found.stdout)["results"]


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs to hold an index folder (we run as root in CI; skipped where mount is denied)."""
    mount = tmp_path / "fs"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True, check=False
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        forget_clients()
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(folder: Path, leave: int) -> Path:
    """Fill the file system of `folder` until `leave` bytes are free."""
    filler = folder / "filler"
    with filler.open("wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass
    size = filler.stat().st_size
    with filler.open("r+b") as out:
        out.truncate(max(0, size - leave))
    return filler


def _published_ids(home: Path) -> set[str]:
    """Chunk ids of the published snapshot, read without opening Chroma (the disk may be full)."""
    import sqlite3

    folder = open_snapshot(home / "index")[1]
    db = sqlite3.connect(f"file:{folder / 'chunks.sqlite'}?mode=ro", uri=True)
    try:
        return {row[0] for row in db.execute("SELECT id FROM chunks")}
    finally:
        db.close()


def _search_ids(env: dict[str, str]) -> set[str]:
    found = run_cli(["search", "--json", QUERY], env)
    assert found.returncode == 0, found.stderr
    assert "Traceback" not in found.stderr
    return {r["chunk_id"] for r in json.loads(found.stdout)["results"]}


@pytest.mark.parametrize("leave", [0, 64 * 1024, 512 * 1024])
def test_full_disk_fails_clearly_keeps_serving_and_recovers(
    leave: int, small_fs: Path, tmp_path: Path
) -> None:
    """Everything runs in fresh processes, as in use; this process reads Chroma only at the end."""
    corpus = tmp_path / "corpus"
    write_articles(corpus, range(12))
    home = tmp_path / "home"
    home.mkdir()
    (home / "index").symlink_to(small_fs)  # only the index lives on the small disk
    env = cli_env(home)
    first = run_cli(["index", "--corpus", str(corpus)], env)
    assert first.returncode == 0, first.stderr
    before = _published_ids(home)
    filler = _fill(small_fs, leave)

    write_articles(corpus, range(12, 60))  # plenty to write
    write_articles(corpus, range(0, 6), version=3)
    assert_one_line_error(run_cli(["index", "--corpus", str(corpus)], env), "disk")
    assert _published_ids(home) == before  # the published index is untouched
    hits = _search_ids(env)
    assert hits and hits <= before  # the chat still answers, from what was published

    filler.unlink()
    again = run_cli(["index", "--corpus", str(corpus)], env)
    assert again.returncode == 0, again.stderr
    forget_clients()
    state = index_state(_settings(home, corpus))
    assert_consistent(state)
    clean = _settings(tmp_path / "clean", corpus)
    index_corpus(clean, corpus)
    forget_clients()
    assert state == index_state(clean)


def test_read_only_index_folder_refuses_to_index_but_still_answers(small_fs: Path, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    write_articles(corpus, range(9))
    home = tmp_path / "home"
    home.mkdir()
    (home / "index").symlink_to(small_fs)
    env = cli_env(home)
    assert run_cli(["index", "--corpus", str(corpus)], env).returncode == 0
    before = _published_ids(home)
    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)

    write_articles(corpus, range(9, 15))
    assert_one_line_error(run_cli(["index", "--corpus", str(corpus)], env), "index")
    hits = _search_ids(env)
    assert hits and hits <= before

    subprocess.run(["mount", "-o", "remount,rw", str(small_fs)], check=True)
    assert run_cli(["index", "--corpus", str(corpus)], env).returncode == 0
    assert len(_published_ids(home)) > len(before)
