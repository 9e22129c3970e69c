"""Filters as users write them: Python values, operator dicts and the CLI's expressions."""

from __future__ import annotations

import pytest

from adaptrag.rag.errors import ConfigError
from adaptrag.rag.retrieval.filters import parse_expressions, where_of
from adaptrag.rag.stores.base import Range


def test_values_lists_and_operators_become_one_where() -> None:
    where = where_of(
        {
            "title": "Lease",
            "kind": ["a", "b"],
            "year": {"gte": 2020, "lt": 2025},
            "status": {"ne": "draft"},
            "by": {"exists": True},
        },
        domain="legal",
    )
    assert where is not None
    assert where.equals == {"title": "Lease", "kind": ["a", "b"], "domain": "legal"}
    assert where.not_equals == {"status": "draft"}
    assert where.ranges == {"year": Range(gte=2020.0, lt=2025.0)}
    assert where.exists == {"by": True}
    assert where_of(None) is None and where_of({}) is None


def test_a_date_bound_is_an_instant_and_a_date_means_its_midnight() -> None:
    where = where_of({"signed": {"gte": "2026-12-01", "lt": "2026-12-06T12:00:00+01:00"}})
    assert where is not None and where.ranges["signed"].dates
    assert where.ranges["signed"].gte == "2026-12-01T00:00:00Z"


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"year": {"between": [1, 2]}}, "unknown operator"),
        ({"year": {}}, "unknown operator"),
        ({"year": {"gte": "last year"}}, "a range takes a number or an ISO date"),
        ({"year": {"gte": 2020, "lt": "2026-01-01"}}, "mixes dates and numbers"),
        ({"by": {"exists": "yes"}}, "exists takes true or false"),
        ({"text": "x"}, "cannot filter on 'text'"),
        ({"title": {"eq": {"nested": 1}}}, "takes a string, an integer"),
        ({"title": 1.5}, "takes a string, an integer"),
    ],
)
def test_a_wrong_filter_is_one_line_naming_the_fix(filters: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as error:
        where_of(filters)
    assert "\n" not in str(error.value)


def test_cli_expressions() -> None:
    assert parse_expressions(
        ["year>=2020", "year<2025", "status!=draft", "title=Lease", "title=NDA", "by:exists"]
    ) == {
        "year": {"gte": 2020.0, "lt": 2025.0},
        "status": {"ne": "draft"},
        "title": ["Lease", "NDA"],
        "by": {"exists": True},
    }
    assert parse_expressions(["notes:missing", "signed>=2026-01-01"]) == {
        "notes": {"exists": False},
        "signed": {"gte": "2026-01-01"},
    }
    assert parse_expressions(['{"page": {"gte": 40, "lte": 50}}']) == {
        "page": {"gte": 40, "lte": 50}
    }
    for wrong, message in (
        ("year", "--filter takes key=value"),
        ("{not json", "--filter JSON is not valid"),
        ("year>=soon", "a range takes a number or an ISO date"),
    ):
        with pytest.raises(ConfigError, match=message):
            parse_expressions([wrong])
