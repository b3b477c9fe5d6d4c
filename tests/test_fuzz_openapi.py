"""Schema-driven fuzzing of every documented operation (Schemathesis), as a customer
and as staff: no 5xx, responses conform to the spec, malformed input gets a 4xx.

Operations are walked explicitly (Schemathesis' pytest plugin does not run under
pytest 9); examples per operation are bounded so the suite stays fast (FUZZ_EXAMPLES
raises the bound for a deeper local run).
"""
from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance

from support_app.security import roles

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", 6))  # raise locally to dig deeper
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))


def _operations(app):
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    documented = {(path, method.upper()) for path, item in schema.raw_schema["paths"].items()
                  for method in item if method in {"get", "post", "put", "patch", "delete"}}
    assert {(op.path, op.method.upper()) for op in operations} == documented  # every one walked
    return operations


# Sign-outs end the token every other operation is fuzzed with: walked last.
ENDS_SESSION = {"/api/auth/logout", "/api/auth/logout-all"}


def _fuzz(app, headers: dict[str, str]) -> list[str]:
    problems: list[str] = []
    for operation in sorted(_operations(app), key=lambda op: op.path in ENDS_SESSION):
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @FUZZ
            @given(case=operation.as_strategy(mode))
            def run(case) -> None:
                response = case.call(headers={**headers, **(case.headers or {})})
                where = f"{mode.value} {case.method} {case.formatted_path}"
                if response.status_code >= 500:
                    problems.append(f"{where} -> {response.status_code} {response.text[:300]}")
                    return
                if mode is GenerationMode.NEGATIVE and response.status_code < 400 and case.body:
                    return  # the generator's "invalid" body may still be valid for a lax field
                try:
                    # Business rules (email taken, weak password) legitimately refuse
                    # schema-valid bodies, so "positive data acceptance" is not checked.
                    case.validate_response(response, excluded_checks=[positive_data_acceptance])
                except Exception as exc:  # noted with the case; asserted as a whole below
                    problems.append(f"{where} -> {response.status_code}: {str(exc)[:400]}")

            try:
                run()
            except Unsatisfiable:  # no parameter and no body: nothing to malform
                assert mode is GenerationMode.NEGATIVE, operation.path
    return problems


@pytest.mark.parametrize("who", ["customer", "staff"])
def test_every_operation_conforms_and_never_500s(app, factory, who):
    person = factory.customer() if who == "customer" else factory.staff(roles.ADMIN)
    problems = _fuzz(app, person.headers)
    assert problems == [], "\n".join(sorted(set(problems))[:40])
