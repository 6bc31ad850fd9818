"""The command line: the one place (with the UI) where errors become messages and exit codes."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

from coiassist import __version__
from coiassist.config import Settings, load_settings
from coiassist.errors import CoiassistError, ConfigError

log = logging.getLogger("coiassist")


def _dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


def _progress_bar(stream: TextIO) -> Callable[[int, int, str], None]:
    """A one-line bar on stderr while embedding (only when stderr is a terminal)."""
    started = time.monotonic()

    def show(done: int, total: int, what: str) -> None:
        if not stream.isatty() or total <= 0:
            return
        width = 30
        filled = int(width * done / total)
        rate = done / max(time.monotonic() - started, 1e-6)
        stream.write(f"\r{what} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} chunks, {rate:.0f}/s")
        if done >= total:
            stream.write("\n")
        stream.flush()

    return show


def cmd_index(args: argparse.Namespace, settings: Settings) -> int:
    from coiassist.indexer import index_corpus

    corpus = Path(args.corpus) if args.corpus else settings.corpus
    report = index_corpus(settings, corpus, rebuild=args.rebuild, progress=_progress_bar(sys.stderr))
    for error in report.errors:
        print(f"skipped {error.path}: {error.reason}", file=sys.stderr)
    for article_id in report.kept:
        print(f"kept the last good version of {article_id}: its file could not be read", file=sys.stderr)
    if args.json:
        print(_dump(report.as_json()))
    else:
        print(
            f"{report.added} added, {report.changed} changed, {report.unchanged} unchanged, "
            f"{report.deleted} deleted; {report.chunks_embedded} chunks embedded, "
            f"{report.chunks_total} in the index; {report.seconds:.1f} s"
            + (f"; {len(report.errors)} file(s) skipped" if report.errors else "")
        )
    indexed_something = report.chunks_total > 0
    if args.strict and report.errors:
        return 1
    if not indexed_something and (report.errors or report.added + report.changed + report.unchanged == 0):
        print("error: nothing could be indexed", file=sys.stderr)
        return 1
    return 0


def _batch_questions(path: Path) -> Iterator[tuple[Any, str]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read batch file {path}: {exc}") from None
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            question = item["question"]
        except (ValueError, KeyError, TypeError):
            raise ConfigError(f"{path}:{lineno}: each line must be a JSON object with a 'question'") from None
        yield item.get("id"), str(question)


def _search_result(retriever: Any, query: str, k: int) -> dict[str, Any]:
    passages = retriever.search(query, k=k)
    return {
        "query": query,
        "results": [
            {
                "rank": rank,
                "article_id": p.article_id,
                "chunk_id": p.chunk_id,
                "title": p.title,
                "text": p.text,
                "score": round(p.score, 6),
            }
            for rank, p in enumerate(passages, 1)
        ],
    }


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    from coiassist.retrieval import open_retriever

    retriever = open_retriever(settings)
    if args.batch:
        for item_id, question in _batch_questions(Path(args.batch)):
            result = _search_result(retriever, question, args.k)
            if item_id is not None:
                result = {"id": item_id, **result}
            print(_dump(result), flush=True)
        return 0
    if args.query is None:
        raise ConfigError("give a query, or --batch FILE.jsonl")
    result = _search_result(retriever, args.query, args.k)
    if args.json:
        print(_dump(result))
        return 0
    for item in result["results"]:
        snippet = " ".join(item["text"].split())[:160]
        print(f"{item['rank']:>2}. [{item['chunk_id']}] {item['title']} ({item['score']:.4f})\n    {snippet}")
    if not result["results"]:
        print("no passages found")
    return 0


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from coiassist.assistant import Assistant, answer_json

    assistant = Assistant(settings)
    if args.batch:
        for item_id, question in _batch_questions(Path(args.batch)):
            try:
                result = answer_json(assistant.ask(question, backend=args.backend))
            except CoiassistError as exc:  # one bad line must not stop a batch
                result = {"question": question, "error": str(exc)}
            if item_id is not None:
                result = {"id": item_id, **result}
            print(_dump(result), flush=True)
        return 0
    if args.question is None:
        raise ConfigError("give a question, or --batch FILE.jsonl")
    answer = assistant.ask(args.question, backend=args.backend)
    if args.json:
        print(_dump(answer_json(answer)))
        return 0
    for note in answer.notes:
        print(f"note: {note}", file=sys.stderr)
    print(answer.answer)
    if answer.citations:
        from coiassist.phrases import phrases_for

        print(f"\n{phrases_for(answer.language).sources}:")
        for citation in answer.citations:
            print(f"[{citation.key}] {citation.title} ({citation.chunk_id})")
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from coiassist.ui import serve

    serve(settings)
    return 0


def cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    from coiassist.retrieval import open_retriever

    stats = open_retriever(settings).stats()
    if args.json:
        print(_dump(stats))
        return 0
    print(f"articles:     {stats['articles']}")
    print(f"chunks:       {stats['chunks']}")
    print(f"vectors:      {stats['vectors'] if stats['vectors'] is not None else stats['vector_problem']}")
    print("languages:    " + ", ".join(f"{k} {v}" for k, v in stats["languages"].items()))
    print(f"model:        {stats['model']}")
    print(f"last indexed: {stats['last_indexed']}")
    if stats["outdated"]:
        print(f"note:         {stats['outdated']}")
    return 0


def cmd_config(args: argparse.Namespace, settings: Settings) -> int:
    rows = settings.describe()
    if args.json:
        print(_dump({name: str(value) if isinstance(value, Path) else value for name, value, _ in rows}))
        return 0
    for name, value, description in rows:
        shown = (
            "(set)"
            if "password" in name and value
            else repr(str(value) if isinstance(value, Path) else value)
        )
        print(f"{name} = {shown}\n    {description}  [COIASSIST_{name.upper()}]")
    return 0


def cmd_backends(args: argparse.Namespace, settings: Settings) -> int:
    from coiassist.backends.registry import backend_statuses

    for name, missing in backend_statuses(settings):
        marker = "*" if name == settings.backend else " "
        status = "ready" if not missing else "not ready: " + "; ".join(missing)
        print(f"{marker} {name:<11} {status}")
    return 0


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from coiassist.evaluation import format_table, run_eval

    report = run_eval(
        settings,
        corpus=Path(args.corpus) if args.corpus else None,
        questions=Path(args.questions) if args.questions else None,
        out_dir=Path(args.out),
        modes=[m.strip() for m in args.modes.split(",") if m.strip()],
        answers=args.answers,
        baseline=Path(args.compare) if args.compare else None,
        sets=args.set or [],
    )
    print(format_table(report))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="coiassist", description="Answers in Danish and Norwegian about COI's articles, with citations."
    )
    parser.add_argument("--version", action="version", version=f"coiassist {__version__}")
    parser.add_argument("--home", help="home folder (default .coiassist; COIASSIST_HOME)")
    parser.add_argument("--config", help="TOML settings file (default coiassist.toml; COIASSIST_CONFIG)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress (INFO)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("index", help="index the corpus (incremental)")
    p.add_argument("--corpus", help="folder or single file (.jsonl etc.); default: the corpus setting")
    p.add_argument("--rebuild", action="store_true", help="build a fresh index from the articles")
    p.add_argument("--strict", action="store_true", help="exit non-zero when any file is skipped")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("search", help="show the passages found for a query")
    p.add_argument("query", nargs="?")
    p.add_argument("--k", type=int, default=10, help="number of passages (default 10)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--batch", help="JSONL file of {'question', 'id'?}; one result per line")
    p.add_argument("--mode", choices=("hybrid", "bm25", "dense"), help="retrieval mode")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("ask", help="answer a question with citations")
    p.add_argument("question", nargs="?")
    p.add_argument("--json", action="store_true")
    p.add_argument("--batch", help="JSONL file of {'question', 'id'?}; one answer per line")
    p.add_argument("--backend", help="answer backend (see `coiassist backends`)")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("serve", help="serve the web chat (127.0.0.1:7860 by default)")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("stats", help="what is in the index")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("config", help="effective settings, each documented")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_config)

    p = sub.add_parser("backends", help="answer backends and whether each is ready")
    p.set_defaults(func=cmd_backends)

    p = sub.add_parser("eval", help="evaluate retrieval (and answers) on the evaluation sets")
    p.add_argument("--set", action="append", help="handwritten, norquad, squad-da (default: all)")
    p.add_argument("--corpus", help="your own corpus (folder or JSONL) to evaluate")
    p.add_argument("--questions", help="question file (JSONL) for --corpus")
    p.add_argument("--modes", default="bm25,dense,hybrid", help="retrieval modes to compare")
    p.add_argument("--answers", action="store_true", help="also score answers (key facts, citations)")
    p.add_argument("--out", default="eval-out", help="output folder (default eval-out)")
    p.add_argument("--compare", help="a previous output folder to test against (paired)")
    p.set_defaults(func=cmd_eval)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    overrides: dict[str, Any] = {"home": args.home}
    if getattr(args, "mode", None):
        overrides["retrieval_mode"] = args.mode
    if args.command == "serve":
        overrides.update(host=args.host, port=args.port)
    try:
        settings = load_settings(overrides, Path(args.config) if args.config else None)
        level = "INFO" if args.verbose else settings.log_level.upper()
        logging.basicConfig(
            level=getattr(logging, level, logging.WARNING), format="%(levelname)s %(name)s: %(message)s"
        )
        code: int = args.func(args, settings)
        return code
    except CoiassistError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
