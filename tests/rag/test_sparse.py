"""The BM25-style sparse encoder: stable hashing, stopwords, saturation."""

from __future__ import annotations

import subprocess
import sys

import pytest

from adaptrag.rag.errors import ConfigError
from adaptrag.rag.retrieval.sparse import V1, V2, V3, SparseConfig, SparseEncoder, tokenize
from adaptrag.rag.settings import Settings


def test_tokens_are_lowercased_words_without_stopwords() -> None:
    assert tokenize("The Tenant shall give 90 days' notice, per Clause 7.", V2) == [
        "tenant",
        "shall",
        "give",
        "90",
        "days",
        "notice",
        "per",
        "clause",
        "7",
    ]


def test_hashing_is_the_same_in_another_process() -> None:
    here = SparseEncoder().encode_query("termination notice period")
    code = (
        "from adaptrag.rag.retrieval.sparse import SparseEncoder\n"
        "print(SparseEncoder().encode_query('termination notice period').indices)"
    )
    there = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONHASHSEED": "123"},
        check=True,
    )
    assert there.stdout.strip() == str(here.indices)


def test_query_weights_are_one_per_distinct_term() -> None:
    vector = SparseEncoder().encode_query("notice notice period")
    assert len(vector.indices) == 2 and vector.values == [1.0, 1.0]
    assert vector.indices == sorted(vector.indices)


def test_passage_weights_saturate_with_repetition() -> None:
    encoder = SparseEncoder()
    once, many = (encoder.encode_passage(" ".join(["rent"] * n)) for n in (1, 50))
    assert once.values[0] < many.values[0] < encoder.config.k1 + 1


def test_text_without_words_gives_an_empty_vector() -> None:
    assert SparseEncoder().encode_passage("... --- !!!").indices == []


def test_glued_letters_and_digits_also_give_their_runs() -> None:
    assert tokenize("AMD's FY2018 10-K revenue", V2) == [
        "amd",
        "s",
        "fy2018",
        "fy",
        "2018",
        "10",
        "k",
        "revenue",
    ]
    assert tokenize("AMD's FY2018 10-K revenue", V1) == ["amd", "s", "fy2018", "10", "k", "revenue"]
    # So a question's "FY2018" meets a table's "2018".
    question = set(SparseEncoder().encode_query("revenue FY2018").indices)
    table = set(SparseEncoder().encode_passage("Revenue 2018 2017").indices)
    assert len(question & table) == 2


def test_a_collection_is_queried_with_the_encoding_it_was_built_with() -> None:
    old = SparseEncoder.matching(SparseConfig(version=V1).as_dict())
    assert old is not None and old.config.version == V1
    assert (
        old.encode_query("FY2018").indices
        == SparseEncoder(SparseConfig(version=V1)).encode_query("FY2018").indices
    )
    assert SparseEncoder.matching({"version": "bm25-someday-v9"}) is None
    assert SparseEncoder.matching({"version": V2, "unknown_field": 1}) is None


def test_v3_stems_words_and_keeps_identifiers_whole() -> None:
    assert tokenize("Terminated licensing agreements under the 10-K and ISO-9001") == [
        "termin",
        "licens",
        "agreement",
        "10",
        "k",
        "iso",
        "9001",
        "10-k",
        "iso-9001",
    ]
    # So a question's inflection meets the clause's: "terminate" / "termination".
    question = set(SparseEncoder().encode_query("When can the lease be terminated?").indices)
    clause = set(SparseEncoder().encode_passage("Termination of the lease").indices)
    assert len(question & clause) == 2  # lease, termin
    # Words only (no digits) joined by hyphens are not identifiers: "non-compete" is two.
    assert "non-compet" not in tokenize("a non-compete clause")
    # Without a stemmer, v3 keeps words as written.
    plain = SparseConfig(stemmer=None)
    assert tokenize("terminated leases", plain.version, plain.stemmer) == ["terminated", "leases"]


def test_v3_uses_the_snowball_stop_list() -> None:
    assert tokenize("What should not be done before the closing?") == ["done", "close"]
    assert tokenize("What should not be done before the closing?", V2) == [
        "what",
        "should",
        "not",
        "done",
        "before",
        "closing",
    ]


def test_records_of_older_versions_read_back_unchanged() -> None:
    """A v2 collection's record has no stemmer field: matching must give the same record
    (the collection check compares them) and encode as v2 did, unstemmed."""
    recorded = {"k1": 1.2, "b": 0.75, "avg_doc_tokens": 120.0, "index_bits": 31, "version": V2}
    matched = SparseEncoder.matching(recorded)
    assert matched is not None and matched.config.as_dict() == recorded
    assert matched.encode_query("terminated") == SparseEncoder(
        SparseConfig(version=V2)
    ).encode_query("terminated")
    assert SparseEncoder().config.as_dict()["stemmer"] == "english"
    assert SparseEncoder().config.version == V3
    assert SparseEncoder.matching({**recorded, "version": V3, "stemmer": "klingon"}) is None


def test_the_stemmer_language_is_a_setting() -> None:
    german = SparseEncoder.for_language("german")
    assert tokenize("Kündigungen", german.config.version, german.config.stemmer) == ["kundig"]
    assert SparseEncoder.for_language("none").config.stemmer is None
    assert Settings(sparse_stemmer="french").ingest.sparse_stemmer == "french"
    with pytest.raises((ValueError, ConfigError), match="no Snowball stemmer for 'klingon'"):
        Settings(sparse_stemmer="klingon")
