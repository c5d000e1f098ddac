"""Property-based API fuzzing with schemathesis over the served OpenAPI document.

Every operation except the endpless SSE stream gets a few generated requests (valid and
invalid) with an admin key; no response may be a 5xx, and responses must match the documented
status codes, content types and JSON schemas. Small ``max_examples`` keeps it under a minute.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance, status_code_conformance

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def api_schema(api: str) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{api}/openapi.json").exclude(path="/v1/stream")


def test_no_server_errors_and_documented_responses(api_schema: schemathesis.BaseSchema, keys: dict[str, str]) -> None:
    failures: list[str] = []
    operations = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(
                headers={"X-API-Key": keys["admin"]},
                checks=[not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance],
            )

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # collect every operation's failure, report them together
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:1500]}")
    assert operations >= 18
    assert not failures, "\n\n".join(failures)
