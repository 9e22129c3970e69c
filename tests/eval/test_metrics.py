"""Each metric against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from adaptrag.eval.metrics import (
    citation_precision,
    contains_answer,
    exact_match,
    grounded_share,
    hit_at_k,
    is_refusal,
    label_correct,
    mrr,
    ndcg_at_k,
    recall_at_k,
    relevant_ranks,
    rouge_l,
    semantic_similarity,
    token_f1,
)
from adaptrag.rag.types import QARow, Source


def src(doc: str, text: str = "") -> Source:
    return Source(doc, f"{doc}-c", text, 1.0)


SOURCES = [
    src("a", "Rent is due monthly."),
    src("b", "The tenant gives ninety days notice."),
    src("c"),
]


def test_retrieval_metrics_by_doc_id() -> None:
    row = QARow("1", "q", ["x"], doc_id="b")
    ranks = relevant_ranks(row, SOURCES)
    assert ranks == [2]
    assert hit_at_k(ranks, 1) == 0.0 and hit_at_k(ranks, 2) == 1.0
    assert recall_at_k(row, SOURCES, 1) == 0.0 and recall_at_k(row, SOURCES, 3) == 1.0
    assert mrr(ranks) == 0.5
    assert ndcg_at_k(ranks, 3) == pytest.approx(1 / math.log2(3))  # ideal DCG is 1
    assert mrr([]) == 0.0 and ndcg_at_k([], 3) == 0.0


def test_retrieval_metrics_by_evidence_overlap_without_doc_id() -> None:
    row = QARow(
        "1", "q", ["x"], evidence=["the tenant gives ninety days notice", "nothing here at all"]
    )
    assert relevant_ranks(row, SOURCES) == [2]
    assert recall_at_k(row, SOURCES, 3) == 0.5  # one of two passages found
    assert relevant_ranks(QARow("2", "q", ["x"]), SOURCES) is None
    assert recall_at_k(QARow("2", "q", ["x"]), SOURCES, 3) is None


def test_ndcg_with_two_relevant_documents() -> None:
    # relevant at ranks 1 and 3, two gold items: (1 + 1/log2 4) / (1 + 1/log2 3)
    expected = (1 + 1 / 2) / (1 + 1 / math.log2(3))
    assert ndcg_at_k([1, 3], 3, gold_count=2) == pytest.approx(expected)


def test_answer_metrics_follow_squad_normalization() -> None:
    assert exact_match("The Ninety days [2].", ["ninety days"]) == 1.0
    # prediction "ninety days notice" vs gold "90 days notice": 2 common, P=2/3, R=2/3
    assert token_f1("ninety days notice", ["90 days notice"]) == pytest.approx(2 / 3)
    assert token_f1("x", ["y", "x"]) == 1.0  # best over the gold answers


def test_value_correct_wants_the_gold_value_as_whole_words() -> None:
    gold = ["one hundred and eighty (180) days", "180 days"]
    assert contains_answer("Notice of 180 days [2] is needed.", gold) == 1.0
    assert contains_answer("Notice of 60 days is needed.", gold) == 0.0  # right form, wrong value
    assert contains_answer("Notice of 1180 days.", gold) == 0.0  # not a part of a word
    assert contains_answer("anything", ["", "  "]) == 0.0  # an empty gold matches nothing
    assert contains_answer("The treasury hedges 60% of purchases.", ["60%"]) == 1.0


def test_label_correct_reads_the_first_yes_no_maybe_word() -> None:
    assert label_correct("Yes, in 80% of patients [1].", ["yes", "It helped."]) == 1.0
    assert label_correct("No. Yes would overstate it.", ["yes"]) == 0.0
    assert label_correct("It is unclear.", ["maybe"]) == 0.0
    assert label_correct("Twelve.", ["twelve"]) is None  # not a labelled row


def test_rouge_l_is_the_f1_of_the_longest_common_subsequence() -> None:
    # 4 tokens each; LCS is "tenant notice" (2): P = R = 0.5
    assert rouge_l("tenant must give notice", ["tenant gives written notice"]) == pytest.approx(0.5)
    assert rouge_l("", ["x"]) == 0.0


def test_refusal_is_the_fixed_reply() -> None:
    assert is_refusal("I don't know.") and is_refusal("i dont know")
    assert not is_refusal("Ninety days.")


def test_grounding_share_of_supported_sentences() -> None:
    answer = "The tenant gives ninety days notice [2]. Pets are welcome on Sundays."
    assert grounded_share(answer, SOURCES) == 0.5
    assert grounded_share("I don't know.", SOURCES) is None


def test_citation_precision_checks_the_cited_source_supports_the_sentence() -> None:
    answer = "The tenant gives ninety days notice [2]. Rent is due monthly [2][1]. Odd [9]."
    # [2] supports sentence 1; [2] does not support sentence 2, [1] does; [9] points nowhere
    assert citation_precision(answer, SOURCES) == pytest.approx(2 / 4)
    assert citation_precision("No citations.", SOURCES) is None


def test_semantic_similarity_is_the_best_cosine_over_the_gold_answers() -> None:
    answer = np.array([3.0, 4.0])
    gold = np.array([[4.0, 3.0], [0.0, 2.0], [0.0, 0.0]])
    # cosines: (12 + 12) / 25 = 0.96, 8 / 10 = 0.8, and 0 for a zero vector (no division by 0)
    assert semantic_similarity(answer, gold) == pytest.approx(0.96)
    assert semantic_similarity(answer, gold[1:]) == pytest.approx(0.8)
    assert semantic_similarity(answer, np.array([[-3.0, -4.0]])) == pytest.approx(-1.0)


def test_a_citation_standing_alone_is_checked_against_the_sentence_before() -> None:
    sources = [src("a", "Rent is due monthly."), src("b", "The deposit is three months.")]
    assert citation_precision("Rent is due monthly. [1]", sources) == 1.0
    assert citation_precision("Rent is due monthly. [2]", sources) == 0.0
    assert citation_precision("[1]", sources) == 0.0  # nothing claimed, nothing supported


def test_ndcg_counts_every_relevant_chunk_of_the_gold_document_and_stays_at_most_one() -> None:
    # three chunks of the gold document at ranks 1, 2 and 4: ideal is ranks 1..3
    dcg = 1 + 1 / math.log2(3) + 1 / math.log2(5)
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k([1, 2, 4], 5) == pytest.approx(dcg / ideal)
    assert ndcg_at_k([1, 2, 3], 5) == pytest.approx(1.0)
    assert ndcg_at_k([1, 2, 3], 2) == pytest.approx(1.0)  # only the top 2 count


def test_a_row_with_a_page_is_hit_only_by_that_page_of_its_document() -> None:
    row = QARow("q", "What was revenue?", ["$1,200"], doc_id="report.pdf", page=47)
    sources = [
        Source("report.pdf", "a", "Revenue | $1,100", 0.9, {"page": 12}),
        Source("other.pdf", "b", "Revenue | $1,200", 0.8, {"page": 47}),
        Source("report.pdf", "c", "Revenue | $1,200", 0.7, {"page": 47}),
    ]
    assert relevant_ranks(row, sources) == [3]
    assert recall_at_k(row, sources, 2) == 0.0 and recall_at_k(row, sources, 3) == 1.0
    unpaged = QARow("q", "What was revenue?", ["$1,200"], doc_id="report.pdf")
    assert relevant_ranks(unpaged, sources) == [1, 3]


def test_a_qa_row_reads_its_page(tmp_path) -> None:
    from adaptrag.eval.datasets import read_qa
    from adaptrag.rag.errors import ConfigError

    path = tmp_path / "qa.jsonl"
    path.write_text('{"question": "q?", "answers": ["a"], "doc_id": "r.pdf", "page": 3}\n')
    assert read_qa(path)[0].page == 3
    path.write_text('{"question": "q?", "answers": ["a"], "page": "three"}\n')
    with pytest.raises(ConfigError, match="a page is a number from 1"):
        read_qa(path)
