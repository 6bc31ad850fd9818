"""The peer: LlamaIndex's standard ingestion of the same articles (run in bench/.venv-peer only).

SentenceSplitter, HuggingFaceEmbedding on the same local model folder (float32, its default)
and a persistent ChromaVectorStore, as its documentation sets them up. Prints one JSON line.
Usage: peer_llamaindex.py CORPUS.jsonl MODEL_DIR WORKDIR
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from importlib import metadata
from pathlib import Path


def main(corpus: Path, model_dir: Path, workdir: Path) -> None:
    import chromadb
    from llama_index.core import Document, Settings, StorageContext, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.chroma import ChromaVectorStore

    rows = [json.loads(line) for line in corpus.read_text(encoding="utf-8").splitlines()]
    documents = [Document(text=f"{r['title']}\n{r['text']}", doc_id=r["id"]) for r in rows]
    # Model load outside the timing, as for coiassist.
    Settings.embed_model = HuggingFaceEmbedding(model_name=str(model_dir), device="cpu")
    shutil.rmtree(workdir, ignore_errors=True)
    started = time.perf_counter()
    client = chromadb.PersistentClient(path=str(workdir))
    store = ChromaVectorStore(chroma_collection=client.get_or_create_collection("peer"))
    index = VectorStoreIndex.from_documents(
        documents,
        storage_context=StorageContext.from_defaults(vector_store=store),
        transformations=[SentenceSplitter(chunk_size=256, chunk_overlap=40)],
    )
    seconds = time.perf_counter() - started
    nodes = store._collection.count()
    del index
    versions = {p: metadata.version(p) for p in ("llama-index-core", "chromadb", "torch")}
    print(json.dumps({"nodes": nodes, "seconds": seconds, "versions": versions}))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
