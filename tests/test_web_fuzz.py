"""The web app's own OpenAPI schema, fuzzed with schemathesis: no request it describes gets a 5xx.

The schema is generated in the test (the app does not publish it: ``openapi_url=None``). Every operation gets
cases from schemathesis' generators — valid and invalid paths, queries, forms, uploads — sent by a logged-in
client; form bodies carry the page's real CSRF token half of the time, so the handlers behind the token check
are reached too. The only property checked is the one that matters here: never a server error.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings as hyp_settings
from hypothesis import strategies as st

from test_web import PASSWORD, account, app, client, csrf_of, logged_in, project, seeded, settings  # noqa: F401 - fixtures

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is in the dev extra: make install")


def _operations(application) -> list:  # noqa: ANN001
    schema = schemathesis.openapi.from_dict(application.openapi())
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.slow
def test_no_generated_request_gets_a_server_error(logged_in, app, seeded) -> None:  # noqa: ANN001, F811
    operations = _operations(app)
    assert len(operations) >= 15, [op.label for op in operations]
    token = csrf_of(logged_in, "/")
    seen: dict[str, int] = {}
    statuses: dict[int, int] = {}
    rng = random.Random(7)

    @hyp_settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
    @given(data=st.data())
    def one_case(data: st.DataObject) -> None:
        for operation in operations:
            case = data.draw(operation.as_strategy())
            # half the time a path's reel id is a real one, so the handlers behind the lookup are reached
            for name in list(case.path_parameters or {}):
                if "id" in name and rng.random() < 0.5:
                    case.path_parameters[name] = rng.choice(seeded.reel_ids)
            kwargs = case.as_transport_kwargs(base_url="http://testserver")
            body = kwargs.get("data") or kwargs.get("json")
            if isinstance(body, dict) and rng.random() < 0.5:
                body["csrf"] = token
            kwargs.pop("verify", None)
            kwargs.pop("timeout", None)
            kwargs.pop("allow_redirects", None)
            kwargs.pop("cookies", None)      # the logged-in session's cookie stays
            response = logged_in.request(follow_redirects=False, **kwargs)
            seen[operation.label] = seen.get(operation.label, 0) + 1
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            assert response.status_code < 500, f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"

    one_case()
    assert len(seen) == len(operations)
    # the cases reached the handlers, not only the login redirect and the token check
    handled = sum(count for status, count in statuses.items() if status not in (303, 403))
    assert handled > 0.3 * sum(statuses.values()), statuses
    print("status codes:", dict(sorted(statuses.items())))
