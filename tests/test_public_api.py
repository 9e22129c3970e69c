"""`import adaptrag` is the public surface: the names apps use, in one place."""

from __future__ import annotations

import inspect
from pathlib import Path

import adaptrag
from adaptrag import AdaptragError

ERRORS = {
    "AdaptragError",
    "BackendError",
    "CollectionNotFoundError",
    "ConfigError",
    "DiskFullError",
    "DocumentNotFoundError",
    "EmbeddingMismatchError",
    "IngestCancelledError",
    "ModelBusyError",
    "ModelLoadError",
    "NotServedError",
    "StoreBusyError",
    "StoreError",
    "UpstreamAuthError",
}


def test_the_package_exports_the_api_and_every_error_class() -> None:
    api = {
        "Pipeline",
        "AsyncPipeline",
        "Query",
        "Settings",
        "load_settings",
        "ingest_paths",
        "IngestReport",
    }
    api |= {"list_documents", "get_document", "delete_document"}
    types = {"Answer", "Chunk", "Citation", "Document", "Source"}
    assert set(adaptrag.__all__) == api | types | ERRORS | {"__version__"}
    for name in adaptrag.__all__:
        assert getattr(adaptrag, name) is not None, name


def test_every_error_of_the_core_is_exported_and_is_an_adaptrag_error() -> None:
    from adaptrag.rag import errors

    defined = {
        name
        for name, value in vars(errors).items()
        if inspect.isclass(value) and issubclass(value, Exception)
    }
    assert defined == ERRORS
    assert all(issubclass(getattr(adaptrag, name), AdaptragError) for name in ERRORS)


def test_the_version_is_a_release_number() -> None:
    major, minor, patch = adaptrag.__version__.split(".")
    assert (major, minor) == ("0", "2") and patch.isdigit()


def public_members(cls: type, instance_attributes: set[str]) -> set[str]:
    return {name for name in vars(cls) if not name.startswith("_")} | instance_attributes


def test_the_pipeline_is_a_small_core_and_its_async_twin_has_the_same_calls() -> None:
    from adaptrag import AsyncPipeline, Pipeline

    sync = public_members(Pipeline, {"settings"})
    assert sync == {
        "settings",
        "collection",  # what it answers with, for code that needs one part directly
        "retriever",
        "generator",
        "adapters",
        "warm",
        "retrieve",
        "ask",
        "ask_many",
        "stream",
        "answer",
        "answer_stream",
        "close",
    }
    twin = public_members(AsyncPipeline, {"pipeline"})
    assert twin == {"pipeline", "retrieve", "ask", "ask_many", "stream", "answer", "close"}
    for name in twin - {"pipeline", "close"}:
        assert inspect.iscoroutinefunction(getattr(AsyncPipeline, name)) or (
            inspect.isasyncgenfunction(getattr(AsyncPipeline, name))
        ), name


def test_the_default_adapter_provider_is_the_registry_runtime_the_app_installs(
    tmp_path: Path,
) -> None:
    from adaptrag import Pipeline, Settings
    from adaptrag.adapters.runtime import AdapterRuntime

    with Pipeline(Settings(data_dir=tmp_path)) as qa:
        assert isinstance(qa.adapters, AdapterRuntime)
