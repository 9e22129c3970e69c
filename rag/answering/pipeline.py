"""The Python API: `Pipeline(settings).ask / stream / retrieve / ask_many`.

Each takes a question and `Query`'s fields as keywords, or a `Query`; `answer(queries)`
and `answer_stream(query)` are what they all call. A query goes through four stages, in
this order, in `_prepare` and `_finish`:
retrieve (embed + search, filtered in the store), route (which backend and adapter, see
`rag.answering.router`), fit the prompt (best sources that fit the generator's budget; the rest
reported as dropped), generate. Models and the store open on first use and are reused
(`rag.answering.parts`); domain adapters come from the `AdapterProvider` there.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from typing_extensions import Unpack

from adaptrag.rag.answering.citations import extract_citations
from adaptrag.rag.answering.evidence import embedding_similarity, with_evidence
from adaptrag.rag.answering.expansion import Expansion, QueryExpander
from adaptrag.rag.answering.grounding import grounded
from adaptrag.rag.answering.parts import Parts
from adaptrag.rag.answering.query import Query, QueryOptions
from adaptrag.rag.answering.router import (
    BASE_ADAPTER,
    AdapterChoice,
    AdapterProvider,
    Route,
    check_backend,
    choose_backend,
    infer_domain,
    model_to_warm,
)
from adaptrag.rag.generators import Generation, Generator
from adaptrag.rag.generators.registry import adapter_backends
from adaptrag.rag.infra.load_timing import Stopwatch, clocked, load_clock
from adaptrag.rag.infra.tracing import end_span, set_attributes, span, start_span
from adaptrag.rag.prompts import NO_ANSWER, Prompt, fit_prompt
from adaptrag.rag.retrieval.embedder import Embedder
from adaptrag.rag.retrieval.retriever import Retrieval, Retriever
from adaptrag.rag.settings import Settings, load_settings
from adaptrag.rag.stores import VectorStore
from adaptrag.rag.types import Answer, Source

logger = logging.getLogger(__name__)
EXPANSION_CONCURRENCY = 4  # expansion calls at once for a batch of questions


@dataclass(frozen=True)
class _Prepared:
    """A question routed, retrieved and put into a prompt, ready to generate."""

    query: Query
    route: Route
    generator: Generator
    retrieval: Retrieval
    prompt: Prompt
    dropped: list[Source]
    max_new_tokens: int
    watch: Stopwatch
    expansion: Expansion


class Pipeline:
    """Question answering over one collection, with the local model, a served model or Claude.

    Args:
        settings: defaults to `load_settings()` (environment and ADAPTRAG_CONFIG).
        collection: overrides `settings.store.collection`.
        embedder / store / generators / adapters: use these instead of building them from
            settings (generators by backend name: {"local": ..., "claude": ...,
            "openai": ...}).

    The models and the store are built on first use; `retriever`, `generator(backend)`,
    `adapters` and `collection` hand them to code that needs one directly (training, the
    server, evaluation), and `warm()` loads them ahead of the first question.
    `AsyncPipeline` is the same API for an event loop, and `adaptrag.langchain` makes a
    pipeline a LangChain retriever, runnable or chat model.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        collection: str | None = None,
        embedder: Embedder | None = None,
        store: VectorStore | None = None,
        generators: Mapping[str, Generator] | None = None,
        adapters: AdapterProvider | None = None,
    ) -> None:
        self.settings = settings or load_settings()
        self._parts = Parts(
            self.settings,
            collection=collection,
            embedder=embedder,
            store=store,
            generators=generators,
            adapters=adapters,
        )

    def close(self) -> None:
        """Release the store (the embedded store's lock on the data dir) and connections."""
        self._parts.close()

    # --- what answers --------------------------------------------------------------------

    @property
    def collection(self) -> str:
        """The name of the collection this pipeline answers from."""
        return self._parts.collection

    @property
    def retriever(self) -> Retriever:
        """The retriever (its `store` and `embedder`), opened on first use."""
        return self._parts.retriever

    @property
    def adapters(self) -> AdapterProvider:
        """Where domain adapters come from (`Pipeline(adapters=...)` or the installed one)."""
        return self._parts.adapters

    def generator(self, backend: str) -> Generator:
        """The generator of a backend ("local", "claude" or "openai"), built once."""
        return self._parts.generator(backend)

    def warm(self) -> None:
        """Load now what the first question would wait for: the embedding model, and the
        local model where the settings' backend answers with it."""
        self.retriever.embedder.embed_queries(["warm up"])
        served = bool(self.settings.openai.openai_base_url)
        if model_to_warm(self.settings.generation.backend, served=served) == "local":
            self.generator("local").load()

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the API -------------------------------------------------------------------------

    def retrieve(self, question: str | Query, **options: Unpack[QueryOptions]) -> list[Source]:
        """The best sources for a question, best first.

        `options` are `Query`'s fields (domain, doc_id, filters, top_k, mode,
        score_threshold, mmr_diversity, merge_adjacent); unset ones come from settings.
        """
        query = Query.of(question, options)
        (expansion,) = self._expand([query])
        if expansion.phrasings:
            logger.info(
                "query expansion: %d queries in %.0f ms, $%.6f",
                len(expansion.phrasings),
                expansion.ms,
                expansion.usage.cost_usd,
            )
        return self._parts.retriever.search(
            expansion.search_text(query.search_text()),
            query.where(),
            query.search_options(self._parts.search_options),
        ).sources

    def ask(self, question: str | Query, **options: Unpack[QueryOptions]) -> Answer:
        """Answer a question (text or a `Query`) from the retrieved sources, with citations.

        `options` are `Query`'s fields; `adapter` forces a registered adapter (`name` or
        `name/vN`) on the local model, "base" forces the base model.
        """
        return self.answer([Query.of(question, options)])[0]

    def ask_many(
        self, questions: Sequence[str | Query], **options: Unpack[QueryOptions]
    ) -> list[Answer]:
        """Answers to many questions (each text or its own `Query`; `options` apply to all)."""
        return self.answer([Query.of(q, options) for q in questions])

    def stream(
        self, question: str | Query, **options: Unpack[QueryOptions]
    ) -> Iterator[str | Answer]:
        """Text deltas as they are generated, then the final `Answer`."""
        return self.answer_stream(Query.of(question, options))

    def answer(self, queries: Sequence[Query]) -> list[Answer]:
        """The answers to `queries`: one embedding batch, then one batch of generation per
        backend, answer length and adapter (local: `generation_batch_size` rows at a time;
        Claude: `claude_concurrency` calls at once)."""
        with load_clock() as clock, span("adaptrag.answer", questions=len(queries)):
            prepared = self._prepare(queries)
            groups: dict[tuple[str, int, str | None], list[_Prepared]] = {}
            for item in prepared:
                if item.prompt.sources:  # nothing retrieved: nothing to generate from
                    key = (item.route.backend, item.max_new_tokens, item.route.adapter_ref)
                    groups.setdefault(key, []).append(item)
            generations: dict[int, tuple[Generation, float]] = {}
            for group in groups.values():
                watch = Stopwatch()
                outputs = self._generate(group)
                # A batch has one duration; each answer reports its share.
                share_ms = watch.ms() / len(group)
                for item, output in zip(group, outputs, strict=True):
                    generations[id(item)] = (output, share_ms)
            return [
                self._finish(p, *generations.get(id(p), (None, 0.0)), load_ms=clock.ms)
                for p in prepared
            ]

    def answer_stream(self, query: Query) -> Iterator[str | Answer]:
        """`answer` for one query, as text deltas then the `Answer`."""
        with load_clock() as clock:  # set around each step only: a stream may change threads
            (prepared,) = self._prepare([query])
        if not prepared.prompt.sources:
            with load_clock(clock):
                answer = self._finish(prepared, None, 0.0, load_ms=clock.ms)
            yield answer.text
            yield answer
            return
        with load_clock(clock):
            watch = Stopwatch()
        generation: Generation | None = None
        events = prepared.generator.stream(prepared.prompt, max_new_tokens=prepared.max_new_tokens)
        generating = start_span(
            "adaptrag.generate", **_generate_attributes([prepared]), stream=True
        )
        try:
            for event in clocked(events, clock):
                if isinstance(event, str):
                    yield event
                else:
                    generation = event
        finally:  # also when the caller stops reading (a client that went away)
            usage = generation.usage if generation is not None else None
            end_span(
                generating,
                input_tokens=usage.input_tokens if usage else None,
                output_tokens=usage.output_tokens if usage else None,
            )
        with load_clock(clock):
            answer = self._finish(prepared, generation, watch.ms(), load_ms=clock.ms)
        yield answer

    # --- stages --------------------------------------------------------------------------

    def _prepare(self, queries: Sequence[Query]) -> list[_Prepared]:
        """Retrieve for every query (one embedding batch), route each, fit its prompt."""
        watch = Stopwatch()
        for query in queries:
            check_backend(
                query.backend or self.settings.generation.backend
            )  # before any model loads
        expansions = self._expand(queries)
        searches = [
            (
                e.search_text(q.search_text()),
                q.where(),
                q.search_options(self._parts.search_options),
            )
            for q, e in zip(queries, expansions, strict=True)
        ]
        forced = {q.adapter: self._forced(q.adapter) for q in queries if q.adapter}
        retrievals = self._parts.retriever.search_many(searches)
        prepared = []
        for query, retrieval, expansion in zip(queries, retrievals, expansions, strict=True):
            topic = query.domain or infer_domain(retrieval.sources)
            chosen = forced.get(query.adapter) if query.adapter else None
            route = choose_backend(
                query.backend or self.settings.generation.backend,
                prefer_claude=self.settings.generation.prefer_claude,
                domain=topic,
                forced=chosen,
                active=self._parts.adapters.active(topic) if topic and chosen is None else None,
                served=bool(self.settings.openai.openai_base_url),
            )
            generator = self._parts.generator(route.backend)
            if route.backend in adapter_backends():  # the model, with the route's adapter or none
                generator = self._parts.adapters.bind(generator, route.adapter)
            max_new = query.max_new_tokens or self.settings.generation.max_new_tokens
            budget = min(self.settings.generation.context_tokens, generator.prompt_budget(max_new))
            prompt, dropped = fit_prompt(
                query.question,
                retrieval.sources,
                count_tokens=generator.count_tokens,
                budget_tokens=budget,
            )
            if route.backend == "local" and self.settings.local_model.decoding == "extractive":
                prompt = with_evidence(prompt, embedding_similarity(self._parts.retriever.embedder))
            prepared.append(
                _Prepared(
                    query, route, generator, retrieval, prompt, dropped, max_new, watch, expansion
                )
            )
        return prepared

    def _expand(self, queries: Sequence[Query]) -> list[Expansion]:
        """Each query's expansion by the `query_expansion` backend (none: empty), the calls
        made a few at a time."""
        backend = self.settings.retrieval.query_expansion
        if backend == "none":
            return [Expansion() for _ in queries]
        expander = QueryExpander(self._parts.generator(backend))
        if len(queries) == 1:
            return [expander.expand(queries[0].question)]
        with ThreadPoolExecutor(max_workers=EXPANSION_CONCURRENCY) as pool:
            return list(pool.map(expander.expand, [q.question for q in queries]))

    def _forced(self, adapter: str) -> AdapterChoice:
        """The adapter a query names, resolved once for the request."""
        if adapter == BASE_ADAPTER:
            return AdapterChoice(BASE_ADAPTER, "", beats_base=False)
        return self._parts.adapters.resolve(adapter)

    def _generate(self, group: Sequence[_Prepared]) -> list[Generation]:
        """One batch of one backend, answer length and adapter."""
        generator, max_new = group[0].generator, group[0].max_new_tokens
        prompts = [p.prompt for p in group]
        with span("adaptrag.generate", **_generate_attributes(group)) as current:
            done = generator.generate_many(prompts, max_new_tokens=max_new)
            set_attributes(
                current,
                input_tokens=sum(g.usage.input_tokens for g in done),
                output_tokens=sum(g.usage.output_tokens for g in done),
            )
            return done

    def _finish(
        self,
        prepared: _Prepared,
        generation: Generation | None,
        generate_ms: float,
        *,
        load_ms: float,
    ) -> Answer:
        # With nothing retrieved there is nothing to answer from: no model call, no cost.
        generation = generation or Generation(NO_ANSWER, prepared.generator.model)
        sources = list(prepared.prompt.sources)
        retrieval = prepared.retrieval
        expanded = self.settings.retrieval.query_expansion != "none"
        answer = Answer(
            text=generation.text,
            sources=sources,
            citations=extract_citations(generation.text, sources),
            backend=prepared.route.backend,
            model=generation.model,
            adapter=prepared.route.adapter_ref,
            route=prepared.route.reason,
            usage=generation.usage + prepared.expansion.usage,
            timings={
                **({"expand_ms": round(prepared.expansion.ms, 3)} if expanded else {}),
                "embed_ms": round(retrieval.embed_ms, 3),
                "search_ms": round(retrieval.search_ms, 3),
                "rerank_ms": round(retrieval.rerank_ms, 3),
                "generate_ms": round(generate_ms, 3),
                "total_ms": round(prepared.watch.ms(), 3),
                "load_ms": round(load_ms, 3),
            },
            dropped=prepared.dropped,
        )
        return grounded(answer, prepared.query.question, self.settings.generation.grounding_action)


def _generate_attributes(group: Sequence[_Prepared]) -> dict[str, Any]:
    """What an `adaptrag.generate` span says of a batch of one backend and answer length."""
    return {
        "backend": group[0].route.backend,
        "model": group[0].generator.model,
        "batch": len(group),
        "max_new_tokens": group[0].max_new_tokens,
        "adapters": sorted({p.route.adapter_ref or "base" for p in group}),
    }
