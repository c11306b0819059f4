"""Property-based fuzzing of the admin API: any method and route, any id, any query, any body
(JSON of any shape, or bytes), from a staff member holding every role. The property: a clear
answer (a 2xx, or a 4xx with a JSON error), never a 5xx, and nothing but JSON back.

Then the ranges: every bounded parameter and draft field of bot/admin/openapi.yaml gets values
at, just beyond and far beyond its bounds (integers past 64 bits, stream ids of 40 digits,
strings one character too long); the answer is a 400 exactly when the document says the value
is out of bounds, and never a 5xx, also for what a draft it let through does next (its preview).
The bounds are read from the document, so a bound added there is fuzzed here."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest
import yaml
from hypothesis import given, strategies as st

from bot.web.admin.api import OPENAPI, ROUTES
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


# Ranges -------------------------------------------------------------------------------------

DOC = yaml.safe_load(OPENAPI.read_text())
COMPONENTS = DOC["components"]["schemas"]
BOUNDS = ("minimum", "maximum", "minLength", "maxLength", "pattern")

#: (method, path, [(name, schema)]) of every route with bounded query parameters.
QUERIES = [
    (method.upper(), path, bounded)
    for path, item in DOC["paths"].items() for method, op in item.items() if method in ("get", "post")
    for bounded in [[(p["name"], p["schema"]) for p in op.get("parameters", []) if p["in"] == "query" and any(b in p["schema"] for b in BOUNDS)]]
    if bounded
]
#: (field of the draft, its schema, the audience kind it belongs to or None for the draft's own).
FIELDS = [(name, schema, None) for name, schema in COMPONENTS["Draft"]["properties"].items() if any(b in schema for b in BOUNDS)] + [
    (name, schema, {"tag_id": "tag", "matter_code": "matter", "department": "department"}.get(name, "enterprises"))
    for name, schema in COMPONENTS["Audience"]["properties"].items() if any(b in schema for b in BOUNDS)
]


def within(schema: dict, value) -> bool:
    """Whether the document allows `value` (a query parameter's text, or a JSON value)."""
    if schema["type"] == "integer":
        if isinstance(value, str):
            if not re.fullmatch(r"-?[0-9]+", value):
                return False
            value = int(value)
        return schema.get("minimum", value) <= value <= schema.get("maximum", value)
    return (schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", len(value))
            and ("pattern" not in schema or re.fullmatch(schema["pattern"], value) is not None))


def around(schema: dict) -> st.SearchStrategy:
    """Values at, next to and far beyond a schema's bounds (integers, or strings)."""
    if schema["type"] == "integer":
        edges = [edge + step for bound in ("minimum", "maximum") if bound in schema for edge in [schema[bound]] for step in (-1, 0, 1)]
        return st.one_of(st.sampled_from(edges), st.integers(), st.integers(min_value=2**63 - 2), st.integers(max_value=-(2**63)),
                         st.integers(10**18, 10**40), st.integers(-(10**40), -(10**18)))
    if "pattern" in schema:  # digit strings: stream ids, division codes
        numbers = st.integers(0, 10**40).map(str)
        return st.one_of(st.from_regex(schema["pattern"], fullmatch=True), numbers, st.tuples(numbers, numbers).map("-".join),
                         st.text("0123456789", max_size=8))
    lengths = [n for bound in ("minLength", "maxLength") if bound in schema for n in (schema[bound] - 1, schema[bound], schema[bound] + 1) if n >= 0]
    return st.one_of(st.sampled_from(lengths), st.integers(0, 700)).map(lambda n: "事" * n)


@st.composite
def bounded_queries(draw):
    method, path, params = draw(st.sampled_from(QUERIES))
    chosen = draw(st.lists(st.sampled_from(params), min_size=1, unique_by=lambda p: p[0]))
    return method, path, {name: str(draw(around(schema))) for name, schema in chosen}, chosen


@HTTP
@given(request=bounded_queries())
async def test_every_query_parameter_is_held_to_its_documented_range(client, request):
    method, path, query, chosen = request
    resp = await client.request(method, "/admin/api" + path, params=query, headers=ADMIN)
    text = await resp.text()
    assert resp.status < 500, (path, query, resp.status, text[:300])
    allowed = all(within(schema, query[name]) for name, schema in chosen)
    assert (resp.status == 400) == (not allowed), (path, query, resp.status, text[:300])
    if resp.status == 400:
        assert any(name in json.loads(text)["message"] for name in query), text


@st.composite
def bounded_drafts(draw):
    """A valid draft with one bounded field set to anything around its bounds."""
    name, schema, kind = draw(st.sampled_from(FIELDS))
    value = draw(around(schema))
    draft = {"title": "停水通知", "body": "明天上午停水。", "audience": {"kind": "all"}}
    if kind is None:
        draft[name] = value
    else:
        draft["audience"] = {"kind": kind, name: value}
    return draft, within(schema, value)


@HTTP
@given(case=bounded_drafts())
async def test_every_draft_field_is_held_to_its_documented_range(client, case):
    draft, allowed = case
    resp = await client.post("/admin/api/broadcasts", json=draft, headers=ADMIN)
    text = await resp.text()
    assert resp.status == (201 if allowed else 400), (draft, resp.status, text[:300])
    if allowed:  # what was let through must not break the next step either (a tag WeChat lacks: 409)
        preview = await client.post(f"/admin/api/broadcasts/{json.loads(text)['id']}/preview", headers=ADMIN)
        assert preview.status < 500, (draft, preview.status, (await preview.text())[:300])
