"""The OpenAPI document: valid, typed, and true to what the server really answers."""

from __future__ import annotations

from typing import Any

import httpx
from helpers.server import Served
from jsonschema import Draft202012Validator


def response_schema(document: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    """The JSON schema of a route's success response, with the document's components."""
    responses = document["paths"][path][method]["responses"]
    success = next(v for k, v in responses.items() if k.startswith("2"))
    schema = success["content"]["application/json"]["schema"]
    return {**schema, "components": document["components"]}


def test_the_document_is_valid_and_every_json_route_is_typed(served: Served) -> None:
    with served.client(key=None) as anonymous:
        document = anonymous.get("/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)  # each is a valid JSON schema
    untyped = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            content = next(v for k, v in operation["responses"].items() if k.startswith("2")).get(
                "content", {}
            )
            schema = content.get("application/json", {}).get("schema")
            if schema is not None and not ("$ref" in schema or "items" in schema):
                untyped.append(f"{method.upper()} {path}")
    assert untyped == []  # no route answers an untyped object


def test_real_responses_match_the_documented_schemas(served: Served) -> None:
    with served.client(key=None) as anonymous:
        document = anonymous.get("/openapi.json").json()
    calls: list[tuple[str, str, dict[str, Any] | None]] = [
        ("/v1/ask", "post", {"question": "What is the annual base rent?", "max_new_tokens": 6}),
        ("/v1/retrieve", "post", {"question": "rent", "top_k": 2}),
        ("/v1/models", "get", None),
        ("/v1/collections", "get", None),
        ("/v1/adapters", "get", None),
        ("/healthz", "get", None),
        ("/readyz", "get", None),
        (
            "/v1/chat/completions",
            "post",
            {
                "model": "adaptrag/legal",
                "messages": [{"role": "user", "content": "What is the rent?"}],
                "max_tokens": 4,
            },
        ),
    ]
    with served.client(timeout=120) as admin:
        for path, method, body in calls:
            response: httpx.Response = admin.request(method.upper(), path, json=body)
            assert response.status_code == 200, (path, response.text)
            schema = response_schema(document, path, method)
            errors = list(Draft202012Validator(schema).iter_errors(response.json()))
            assert errors == [], (path, [e.message for e in errors][:3])
