"""What each evaluation metric means, and which way is better: one definition for the
reports (Markdown, HTML) and the evaluation guide's metric table (a test keeps them equal)."""

from __future__ import annotations

# In report order. The text is Markdown (backticks for names).
DEFINITIONS: dict[str, str] = {
    "exact_match": (
        "1 if the normalized answer equals a normalized gold answer (SQuAD "
        "normalization: lower case, no punctuation, no articles, single spaces; "
        "citation markers removed)"
    ),
    "f1": (
        "best over gold answers of the token F1: 2·P·R/(P+R) with P = shared tokens / "
        "answer tokens, R = shared tokens / gold tokens"
    ),
    "value_correct": (
        "1 if a normalized gold answer appears in the normalized answer as whole words "
        '(the answer carries the document\'s value: "180 days" where the gold is "180 '
        'days", not "60 days"), else 0'
    ),
    "value_in_sources": (
        "1 if a normalized gold answer appears in the sources given to the model, else "
        "0: the ceiling of `value_correct` for this retrieval"
    ),
    "label_correct": (
        "rows whose first gold answer is yes, no or maybe (PubMedQA): 1 if the answer's "
        "first yes/no/maybe word is that label; other rows are left out"
    ),
    "rouge_l": (
        "best over gold answers of the F1 of LCS/answer tokens and LCS/gold tokens "
        "(LCS: longest common subsequence of normalized tokens)"
    ),
    "semantic_similarity": (
        "best over gold answers of cos(e(answer), e(gold)), with the collection's embedding model"
    ),
    "refusal": ("1 if the answer is the prompt's refusal, \"I don't know.\""),
    "grounded": (
        "share of the answer's sentences (citations removed) with at least 50% of their "
        "tokens found in one retrieved source; refusals are left out"
    ),
    "values_supported": (
        "1 if every value the answer states (numbers, amounts, percentages, dates, "
        "durations, quoted spans) is held by a source given to the model, 0 if one is not "
        "(the answer's grounding verdict); answers stating no value are left out"
    ),
    "citation_precision": (
        "share of `[n]` markers whose source n holds at least 50% of the citing "
        "sentence's tokens (a marker pointing nowhere counts as wrong); answers without "
        "citations are left out"
    ),
    "hit_at_k": ("1 if any relevant source is among the top k, else 0"),
    "recall_at_k": (
        "relevant gold items found in the top k / gold items (the gold document counts "
        "as 1 item; without `doc_id`, each `evidence` passage is an item)"
    ),
    "mrr": ("1 / rank of the first relevant source (0 if none)"),
    "ndcg_at_k": (
        "Σ over relevant ranks r ≤ k of 1/log2(r+1), divided by the same sum for the "
        "ideal ranking (ranks 1..min(R, k), R = the larger of the gold items and the "
        "relevant sources found, since several chunks of the gold document are all "
        "relevant)"
    ),
    "gold_dropped": (
        "1 when relevant sources were retrieved but none fit into the prompt budget "
        "(`context_tokens`), else 0"
    ),
    "judge_correct": (
        "with `--judge`: Claude says the answer means the same as a gold answer (1/0)"
    ),
    "judge_faithful": (
        "with `--judge`: Claude says every claim is supported by the sources shown (1/0)"
    ),
}
METRICS = tuple(DEFINITIONS)

# Lower is better for these; every other metric is a share where higher is better.
LOWER_IS_BETTER = frozenset({"refusal", "gold_dropped"})
