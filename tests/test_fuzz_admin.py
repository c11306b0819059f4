"""Property-based fuzzing of the admin API: any method and route, any id, any query, any body
(JSON of any shape, or bytes), from a staff member holding every role. The property: a clear
answer (a 2xx, or a 4xx with a JSON error), never a 5xx, and nothing but JSON back."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from hypothesis import given, strategies as st

from bot.web.admin.api import ROUTES
from tests.test_broadcasts import STAFF, TOKENS, WECOM
from tests.test_fuzz import HTTP, _json_values, typed

ADMIN = {"Authorization": f"Bearer {TOKENS['root']}"}
VALID = {"title": "停水通知", "body": "明天上午停水。", "audience": {"kind": "all"}}


@pytest.fixture
def settings(make_settings):
    """The app of the `client` fixture, with staff (and so the admin API's tokens) configured."""
    return make_settings(staff=STAFF, **WECOM)


bodies = st.one_of(
    _json_values().map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({}, optional={k: _json_values() for k in ("title", "body", "audience", "channel", "reason")}).map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=600),
)
idents = st.one_of(st.sampled_from(["b1", "b2", "1", "b999999999999", "..", "%2e%2e"]), typed.filter(bool))
queries = st.dictionaries(st.sampled_from(["after", "count", "limit", "status", "x"]), typed, max_size=3)


@HTTP
@given(route=st.sampled_from([(m, p) for m, p, _ in ROUTES]), ident=idents, body=bodies, query=queries)
async def test_any_admin_request_gets_a_clear_answer_never_a_5xx(client, route, ident, body, query):
    created = await client.post("/admin/api/broadcasts", json=VALID, headers=ADMIN)  # so some ids exist
    assert created.status < 500
    method, path = route
    url = "/admin/api" + path.replace("{id}", quote(ident, safe=""))
    resp = await client.request(method, url, data=body if method == "POST" else None, params=query,
                                headers={**ADMIN, "Content-Type": "application/json"})
    text = await resp.text()
    assert resp.status < 500, (method, url, resp.status, text[:300])
    assert "Traceback" not in text
    if path != "/openapi.yaml" and resp.status != 404:
        assert resp.content_type == "application/json", (method, url, resp.status, text[:200])
        json.loads(text)
