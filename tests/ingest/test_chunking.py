"""Chunking with the embedding model's own tokenizer: bounded, ordered, headings kept."""

from __future__ import annotations

from adaptrag.ingest.chunking import Chunker
from adaptrag.rag.retrieval.embedder import SentenceTransformerEmbedder
from adaptrag.rag.types import Document


def _chunker(embedder: SentenceTransformerEmbedder, tokens: int = 64, overlap: int = 8) -> Chunker:
    return Chunker(embedder.token_length, min(tokens, embedder.max_chunk_tokens), overlap)


def test_no_chunk_is_longer_than_the_model_reads(embedder: SentenceTransformerEmbedder) -> None:
    limit = embedder.max_chunk_tokens
    assert limit == 254  # MiniLM reads 256 tokens, two of them [CLS] and [SEP]
    text = ("Clause %d: the supplier shall deliver within ten business days. " * 300) % tuple(
        range(300)
    )
    text += (
        " " + "x" * 5000 + " " + "Überweisungsbestätigungsformular " * 200
    )  # one huge "word", then long ones
    chunker = _chunker(embedder, tokens=10_000)  # asks for more than the model takes
    chunks = chunker.split(Document("d", text, "t", "s"))
    assert len(chunks) > 10
    assert max(embedder.token_length(c.text) for c in chunks) <= limit
    encoded = embedder.model.tokenizer([c.text for c in chunks], truncation=False)["input_ids"]
    assert max(len(ids) for ids in encoded) <= embedder.model.max_seq_length


def test_chunks_are_numbered_in_document_order_and_cover_the_text(
    embedder: SentenceTransformerEmbedder,
) -> None:
    sentences = [f"Sentence number {i} talks about topic {i}." for i in range(60)]
    chunks = _chunker(embedder, tokens=40, overlap=0).split(
        Document("d", " ".join(sentences), "t", "s")
    )
    assert [c.chunk_index for c in chunks] == list(range(len(chunks)))
    joined = " ".join(c.text for c in chunks)
    assert all(s in joined for s in sentences)
    assert joined.index("number 10 ") < joined.index("number 50 ")


def test_overlap_repeats_text_across_neighbours(embedder: SentenceTransformerEmbedder) -> None:
    text = " ".join(f"word{i}" for i in range(400))
    chunks = _chunker(embedder, tokens=50, overlap=20).split(Document("d", text, "t", "s"))
    first_words, second_words = set(chunks[0].text.split()), set(chunks[1].text.split())
    assert first_words & second_words


def test_markdown_headings_become_chunk_metadata(embedder: SentenceTransformerEmbedder) -> None:
    text = (
        "# Lease\n\nIntro.\n\n## Rent\n\nRent is due monthly.\n\n"
        "### Late payment\n\nA fee applies.\n"
    )
    doc = Document("lease.md", text, "Lease", "s", {"format": "markdown"})
    chunks = _chunker(embedder).split(doc)
    by_text = {c.text.splitlines()[-1]: c.metadata.get("headings") for c in chunks}
    assert by_text["Intro."] == ["Lease"]
    assert by_text["Rent is due monthly."] == ["Lease", "Rent"]
    assert by_text["A fee applies."] == ["Lease", "Rent", "Late payment"]
