"""Ingestion throughput against its baselines, measured in the same process.

    python benchmarks/bench_ingest.py [--corpus FILE.jsonl] [--docs N] [--ray [--actors N]]

Ratios printed (and written to benchmarks/results/ingest.json):
- ingest / raw encode: our whole job (parse, chunk, embed, upsert into Qdrant Edge,
  optimize) against `SentenceTransformer.encode` of the very same chunk texts. Target >= 0.9.
- ingest / LangChain: against `QdrantVectorStore.from_texts` with `HuggingFaceEmbeddings`
  on the same texts (pre-chunked for it, which favours it). Target >= 1.0.
- ingest / LlamaIndex: against `VectorStoreIndex` over the same texts as `TextNode`s, with
  `HuggingFaceEmbedding` and its `QdrantVectorStore` (qdrant-client's embedded mode, as
  LangChain's); skipped with a note when LlamaIndex is not installed (`pip install -e
  ".[bench]"`, which `make bench` does).
- each embedding runtime (`--runtimes`, default torch onnx onnx-int8): the same ingest job
  into a collection of its own, chunks/s and the ratio to torch's in the same run.
- first ingest / re-ingest of the unchanged corpus. Target >= 50.
- with --small-files N: a folder of N Markdown files of about 900 characters each (SQuAD
  paragraphs), ingested against a bare encode of the same chunks: what the work around
  the model (reading, titles, sparse vectors, store writes) costs per file. Target >= 0.9.
- with --ray: the single-process job / `ingest --ray` on a local Ray (each document its own
  file, so parsing spreads too), Ray's start-up timed apart. On one machine the actors
  share its cores with nothing gained over the threaded job; what it shows is the
  overhead of the distribution, which a cluster pays once per run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from common import write_results

from adaptrag.ingest import ingest_paths
from adaptrag.ingest.chunking import Chunker
from adaptrag.ingest.loaders import SourceFile, load
from adaptrag.rag.retrieval.embedder import SentenceTransformerEmbedder, resolve_model_path
from adaptrag.rag.settings import Settings

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "squad_dev_corpus.jsonl"


def _timed(fn):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--corpus", type=Path, default=SHARED, help="corpus JSONL {doc_id,title,text}"
    )
    parser.add_argument("--docs", type=int, default=16, help="documents taken from the corpus")
    parser.add_argument("--ray", action="store_true", help="also time ingest --ray")
    parser.add_argument(
        "--ray-only", action="store_true", help="only the Ray comparison (its own baseline)"
    )
    parser.add_argument(
        "--small-files", type=int, default=0, help="only the folder of N small files"
    )
    parser.add_argument("--actors", type=int, default=None, help="Ray embedding actors")
    parser.add_argument("--docs-per-batch", type=int, default=2, help="documents per actor call")
    parser.add_argument(
        "--runtimes",
        nargs="*",
        default=["torch", "onnx", "onnx-int8"],
        help="embedding runtimes whose ingest is timed side by side (none: skipped)",
    )
    args = parser.parse_args()
    if not args.corpus.exists():
        sys.exit(f"error: corpus {args.corpus} not found; pass --corpus FILE.jsonl")

    work = Path(tempfile.mkdtemp(prefix="adaptrag-bench-"))
    corpus = work / "corpus.jsonl"
    with args.corpus.open() as source, corpus.open("w") as target:
        for _, line in zip(range(args.docs), source, strict=False):
            target.write(line)
    settings = Settings(data_dir=work / "data", collection="bench")
    embedder = SentenceTransformerEmbedder.from_settings(settings)
    embedder.embed_passages(["warm up the model"] * 8)
    if args.small_files:
        small = bench_small_files(args.corpus, work, settings, embedder, args.small_files)
        print(
            f"{small['files']} small files, {small['chunks']} chunks: raw encode "
            f"{small['raw_encode_s']:.1f} s, ingest {small['ingest_s']:.1f} s, "
            f"ingest / raw encode = {small['ingest_vs_raw_encode']:.2f}x (target >= 0.9)"
        )
        write_results("ingest-small-files", small)
        shutil.rmtree(work, ignore_errors=True)
        return
    if args.ray_only:
        ray_results = bench_ray(corpus, work, settings, embedder, args.actors, args.docs_per_batch)
        print_ray(ray_results)
        write_results("ingest-ray", {"ray": ray_results})
        shutil.rmtree(work, ignore_errors=True)
        return

    # The exact chunk texts the job will embed.
    chunker = Chunker(
        embedder.token_length,
        min(settings.ingest.chunk_tokens, embedder.max_chunk_tokens),
        settings.ingest.chunk_overlap_tokens,
    )
    documents = load(SourceFile(corpus, corpus, corpus.name))
    texts = [c.text for d in documents for c in chunker.split(d)]
    print(f"corpus: {len(documents)} documents, {len(texts)} chunks, torch threads default")

    _, raw_s = _timed(lambda: embedder.embed_passages(texts))
    report, ingest_s = _timed(
        lambda: ingest_paths(
            [corpus], "bench", settings=settings, embedder=embedder, show_progress=False
        )
    )
    assert report.chunks_embedded == len(texts), (report.chunks_embedded, len(texts))
    reingest, reingest_s = _timed(
        lambda: ingest_paths(
            [corpus], "bench", settings=settings, embedder=embedder, show_progress=False
        )
    )
    assert reingest.chunks_embedded == 0 and reingest.unchanged == len(documents)

    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_qdrant import QdrantVectorStore

    lc_embeddings = HuggingFaceEmbeddings(
        model_name=resolve_model_path(settings.embedding.embedding_model),
        encode_kwargs={
            "normalize_embeddings": True,
            "batch_size": settings.embedding.embedding_batch_size,
        },
    )
    lc_embeddings.embed_documents(["warm up the model"] * 8)
    _, langchain_s = _timed(
        lambda: QdrantVectorStore.from_texts(
            texts, lc_embeddings, location=":memory:", collection_name="bench"
        )
    )

    llamaindex_s = llamaindex_seconds(texts, settings)
    runtimes = {r: runtime_seconds(corpus, work, r) for r in args.runtimes}

    results = {
        "documents": len(documents),
        "chunks": len(texts),
        "seconds": {
            "raw_encode": raw_s,
            "ingest": ingest_s,
            "langchain": langchain_s,
            "reingest": reingest_s,
        },
        "chunks_per_s": {
            "raw_encode": len(texts) / raw_s,
            "ingest": len(texts) / ingest_s,
            "langchain": len(texts) / langchain_s,
        },
        "ratios": {
            "ingest_vs_raw_encode": raw_s / ingest_s,
            "ingest_vs_langchain": langchain_s / ingest_s,
            "first_ingest_vs_reingest": ingest_s / reingest_s,
        },
        "targets": {
            "ingest_vs_raw_encode": 0.9,
            "ingest_vs_langchain": 1.0,
            "first_ingest_vs_reingest": 50.0,
        },
        "runtimes": {
            runtime: {"seconds": seconds, "chunks_per_s": len(texts) / seconds}
            for runtime, seconds in runtimes.items()
        },
    }
    if llamaindex_s is not None:
        results["seconds"]["llamaindex"] = llamaindex_s
        results["chunks_per_s"]["llamaindex"] = len(texts) / llamaindex_s
        results["ratios"]["ingest_vs_llamaindex"] = llamaindex_s / ingest_s
        results["targets"]["ingest_vs_llamaindex"] = 1.0
    if "torch" in runtimes:
        for runtime, seconds in runtimes.items():
            results["runtimes"][runtime]["vs_torch"] = runtimes["torch"] / seconds
    if args.ray:
        results["ray"] = bench_ray(
            corpus, work, settings, embedder, args.actors, args.docs_per_batch
        )
    for name, value in results["seconds"].items():
        print(f"{name:<12} {value:8.2f} s")
    for name, value in results["ratios"].items():
        target = results["targets"][name]
        verdict = "ok" if value >= target else "BELOW TARGET"
        print(f"{name:<26} {value:8.2f}x  (target >= {target}) {verdict}")
    for runtime, row in results["runtimes"].items():
        ratio = f" ({row['vs_torch']:.2f}x torch)" if "vs_torch" in row else ""
        print(f"runtime {runtime:<10} {row['chunks_per_s']:8.1f} chunks/s{ratio}")
    if args.ray:
        print_ray(results["ray"])
    write_results("ingest-ray" if args.ray else "ingest", results)
    shutil.rmtree(work, ignore_errors=True)


def llamaindex_seconds(texts: list[str], settings: Settings) -> float | None:
    """LlamaIndex's `VectorStoreIndex` over the chunk texts, or None when not installed."""
    try:
        from llama_index.core import StorageContext, VectorStoreIndex
        from llama_index.core.schema import TextNode
        from llama_index.embeddings.huggingface import HuggingFaceEmbedding
        from llama_index.vector_stores.qdrant import QdrantVectorStore as LlamaQdrant
    except ImportError:
        print('LlamaIndex is not installed (pip install -e ".[bench]"): its row is skipped')
        return None
    from qdrant_client import QdrantClient

    embedding = HuggingFaceEmbedding(
        model_name=resolve_model_path(settings.embedding.embedding_model),
        embed_batch_size=settings.embedding.embedding_batch_size,
        normalize=True,
    )
    embedding.get_text_embedding_batch(["warm up the model"] * 8)
    client = QdrantClient(":memory:")
    store = LlamaQdrant(client=client, collection_name="bench")
    nodes = [TextNode(text=text) for text in texts]
    _, seconds = _timed(
        lambda: VectorStoreIndex(
            nodes,
            storage_context=StorageContext.from_defaults(vector_store=store),
            embed_model=embedding,
        )
    )
    client.close()
    return seconds


def runtime_seconds(corpus: Path, work: Path, runtime: str) -> float:
    """The ingest job's seconds with one embedding runtime, into a collection of its own."""
    settings = Settings(
        data_dir=work / f"data-{runtime}",
        collection="bench",
        embedding_runtime=runtime,
        model_cache_dir=Settings().models_dir,  # the exports made once, reused
    )
    embedder = SentenceTransformerEmbedder.from_settings(settings)
    embedder.embed_passages(["warm up the model"] * 8)  # loaded (and exported) untimed
    report, seconds = _timed(
        lambda: ingest_paths(
            [corpus], "bench", settings=settings, embedder=embedder, show_progress=False
        )
    )
    assert report.chunks_embedded > 0
    return seconds


def bench_small_files(
    corpus: Path, work: Path, settings: Settings, embedder: SentenceTransformerEmbedder, n: int
) -> dict[str, float]:
    """N files of one ~900-character paragraph each: ingest against a bare encode of the
    same chunk texts (what the job embeds, its title lines included)."""
    import json

    from adaptrag.ingest.titles import embedded_texts, indexed_text

    folder = work / "small"
    folder.mkdir()
    written = 0
    with corpus.open() as source:
        for line in source:
            record = json.loads(line)
            for paragraph in str(record["text"]).split("\n"):
                if written < n and 600 <= len(paragraph) <= 1200:
                    (folder / f"note-{written:04d}.md").write_text(paragraph)
                    written += 1
            if written >= n:
                break
    chunker = Chunker(
        embedder.token_length,
        min(settings.ingest.chunk_tokens, embedder.max_chunk_tokens),
        settings.ingest.chunk_overlap_tokens,
    )
    texts = []
    for path in sorted(folder.iterdir()):
        for document in load(SourceFile(path, folder, path.name)):
            texts += [
                indexed_text(
                    document,
                    chunk,
                    settings.ingest.chunk_context,
                    token_length=embedder.token_length,
                    max_tokens=embedder.max_chunk_tokens,
                )
                for chunk in chunker.split(document)
            ]
    texts = embedded_texts(texts)  # what the job's model reads of them
    _, raw_s = _timed(lambda: embedder.embed_passages(texts))
    small = Settings(data_dir=work / "data-small", collection="bench")
    report, ingest_s = _timed(
        lambda: ingest_paths(
            [folder], "bench", settings=small, embedder=embedder, show_progress=False
        )
    )
    assert report.chunks_embedded == len(texts), (report.chunks_embedded, len(texts))
    return {
        "files": written,
        "chunks": len(texts),
        "raw_encode_s": raw_s,
        "ingest_s": ingest_s,
        "ingest_vs_raw_encode": raw_s / ingest_s,
    }


def print_ray(results: dict[str, float]) -> None:
    """One line: Ray's start, both runs, their ratio."""
    print(
        f"ray: start {results['ray_start_s']:.1f} s; folder of {results['files']} files, "
        f"{results['chunks']} chunks: single-process {results['single_s']:.1f} s, ray "
        f"({results['actors']} actors, {results['documents_per_batch']} documents per call) "
        f"{results['ray_s']:.1f} s; single / ray = {results['single_vs_ray']:.2f}x"
    )


def bench_ray(
    corpus: Path,
    work: Path,
    settings: Settings,
    embedder: SentenceTransformerEmbedder,
    actors: int | None,
    docs_per_batch: int,
) -> dict[str, float]:
    """The same documents as a folder of files, ingested by the threaded job and on Ray."""
    import json

    import ray

    from adaptrag.ingest.distributed import RayOptions

    folder = work / "files"
    folder.mkdir()
    for n, line in enumerate(corpus.read_text().splitlines()):
        record = json.loads(line)
        (folder / f"doc{n:04d}.md").write_text(f"# {record.get('title', '')}\n\n{record['text']}")
    _, start_s = _timed(lambda: ray.init(include_dashboard=False, log_to_driver=False))
    options = RayOptions(actors=actors, documents_per_batch=docs_per_batch)
    single, single_s = _timed(
        lambda: ingest_paths(
            [folder],
            "bench",
            settings=settings,
            collection="single",
            embedder=embedder,
            show_progress=False,
        )
    )
    on_ray, ray_s = _timed(
        lambda: ingest_paths(
            [folder],
            "bench",
            settings=settings,
            collection="ray",
            embedder=embedder,
            show_progress=False,
            ray=options,
        )
    )
    assert on_ray.chunks_embedded == single.chunks_embedded, (on_ray, single)
    used = actors or max(1, int(ray.cluster_resources().get("CPU", 1)))
    ray.shutdown()
    return {
        "files": len(list(folder.iterdir())),
        "chunks": single.chunks_embedded,
        "actors": used,
        "documents_per_batch": docs_per_batch,
        "ray_start_s": start_s,
        "single_s": single_s,
        "ray_s": ray_s,
        "single_vs_ray": single_s / ray_s,
    }


if __name__ == "__main__":
    main()
