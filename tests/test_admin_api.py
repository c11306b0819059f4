"""The admin API as a client sees it over real HTTP: tokens, roles, the audit trail of refusals,
answers that match bot/web/admin/openapi.yaml, and routes that are exactly the documented ones."""

from __future__ import annotations

import copy
import json
import re

import jsonschema_rs
import pytest
import yaml

from bot.web.admin.api import OPENAPI, ROUTES
from bot.web.appkeys import HANDOFF
from tests.test_broadcasts import FAST, STAFF, TOKENS, WECOM, Staffer, add_followers, audit_entries, openids, until_status

DOC = yaml.safe_load(OPENAPI.read_text())
METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture
async def api(serve, make_settings):
    overrides = dict(staff=STAFF, **WECOM, **FAST)
    client = await serve(**overrides)
    client.prefix = make_settings(**overrides).key_prefix
    return client


def schema_of(ref: str) -> jsonschema_rs.Validator:
    """A validator for one component of the document (OpenAPI 3.0 `nullable` made JSON Schema)."""

    def convert(node):
        if isinstance(node, dict):
            node = {k: convert(v) for k, v in node.items() if not k.startswith("x-")}
            if node.pop("nullable", False) and "type" in node:
                node["type"] = [node["type"], "null"]
            return node
        if isinstance(node, list):
            return [convert(v) for v in node]
        return node

    return jsonschema_rs.validator_for({"$ref": ref, "components": convert(copy.deepcopy(DOC["components"]))})


def test_routes_are_exactly_the_documented_ones_with_their_roles(serve):
    documented = {(m.upper(), path): op for path, item in DOC["paths"].items() for m, op in item.items() if m in METHODS}
    served = {(method, path): handler for method, path, handler in ROUTES}
    assert set(documented) == set(served)
    for key, op in documented.items():
        roles = getattr(served[key], "roles")
        assert sorted(roles) == sorted(op["x-roles"]), key
        assert (op.get("security") == []) == (roles == ()), key  # only the description is public
        assert "401" in op["responses"] or roles == (), key
        assert "403" in op["responses"] or not roles, key
        assert "429" in op["responses"] or roles == (), key  # a client refused too often
    ids = [op["operationId"] for op in documented.values()]
    assert len(ids) == len(set(ids))


async def test_the_app_serves_every_documented_route_under_admin_api(api):
    mounted = {(r.method, r.resource.canonical) for r in api.server.app.router.routes() if r.resource and
               r.resource.canonical.startswith("/admin/api/")}
    assert mounted == {(m, "/admin/api" + p) for m, p, _ in ROUTES}
    resp = await api.get("/admin/api/openapi.yaml")  # the description needs no token
    assert resp.status == 200 and yaml.safe_load(await resp.text()) == DOC


async def test_missing_or_wrong_tokens_are_refused_and_counted_not_audited(api, redis):
    """A stranger's request is not an action of staff: it is counted in /metrics, never written
    to the audit log, where a flood of them would push out the real approvals."""
    before = await refusals(api)
    attempts = [
        ("GET", "/admin/api/broadcasts", {}),
        ("POST", "/admin/api/broadcasts", {"Authorization": "Bearer not-a-real-token-123"}),
        ("GET", "/admin/api/audit", {"Authorization": "Basic " + TOKENS["root"]}),
        ("POST", "/admin/api/broadcasts/b1/approve", {"Authorization": "Bearer "}),
        ("GET", "/admin/api/me", {"Authorization": "Bearer " + TOKENS["root"][:-1]}),
    ]
    for method, path, headers in attempts:
        resp = await api.request(method, path, headers=headers, json={"title": "x"} if method == "POST" else None)
        body = await resp.json()
        assert resp.status == 401, (path, body)
        assert resp.headers["WWW-Authenticate"].startswith("Bearer") and body["error"] == "unauthenticated"
        assert schema_of("#/components/schemas/Error").is_valid(body)
    assert await audit_entries(redis, api.prefix) == []
    after = await refusals(api)
    assert after.get("no_token", 0) - before.get("no_token", 0) == 3
    assert after.get("wrong_token", 0) - before.get("wrong_token", 0) == 2


async def test_a_flood_of_anonymous_requests_is_limited_per_client_and_never_reaches_the_audit_log(serve, make_settings, redis):
    """Past `rate_limit_admin_refusals` refusals in a window, a client address gets 429 for
    everything, a right token included (a guesser learns nothing from the answer). The address
    is the one a trusted proxy names; other clients are not affected, and staff's actions and
    refusals are still on the record, with that address."""
    overrides = dict(staff=STAFF, **WECOM, rate_limit_admin_refusals=5)
    api = await serve(**overrides)
    prefix = make_settings(**overrides).key_prefix
    before = await refusals(api)
    stranger, colleague = {"X-Forwarded-For": "203.0.113.7"}, {"X-Forwarded-For": "198.51.100.20"}
    statuses = [(await api.get("/admin/api/me", headers={**stranger, "Authorization": f"Bearer guess-{n:04d}-0000000000"})).status
                for n in range(8)]
    assert statuses == [401] * 5 + [429] * 3
    limited = await api.get("/admin/api/me", headers={**stranger, "Authorization": f"Bearer {TOKENS['root']}"})
    assert limited.status == 429 and int(limited.headers["Retry-After"]) > 0
    assert (await limited.json())["error"] == "too_many_requests"
    assert (await api.get("/admin/api/me", headers={**colleague, "Authorization": f"Bearer {TOKENS['root']}"})).status == 200
    forbidden = await api.get("/admin/api/audit", headers={**colleague, "Authorization": f"Bearer {TOKENS['zhaoliu']}"})
    assert forbidden.status == 403
    entries = await audit_entries(redis, prefix)
    assert [(e["actor"], e["action"], e["outcome"], e["detail"]["ip"]) for e in entries] == [
        ("zhaoliu", "api.refused", "forbidden", "198.51.100.20")]
    after = await refusals(api)
    assert after.get("wrong_token", 0) - before.get("wrong_token", 0) == 5
    assert after.get("limited", 0) - before.get("limited", 0) == 4


async def refusals(client) -> dict[str, float]:
    """ywtb_admin_refusals_total by reason, from /metrics."""
    text = await (await client.get("/metrics")).text()
    return {m[1]: float(m[2]) for m in re.finditer(r'^ywtb_admin_refusals_total\{reason="(\w+)"\} (\S+)$', text, re.M)}


async def test_a_token_without_the_role_is_forbidden_and_audited(api, redis):
    zhao, zhang, li = Staffer(api, "zhaoliu"), Staffer(api, "zhangsan"), Staffer(api, "lisi")
    for staffer, method, path in [(zhao, "POST", "/broadcasts"), (zhao, "GET", "/broadcasts"), (zhang, "GET", "/audit"),
                                  (li, "POST", "/broadcasts"), (zhang, "POST", "/broadcasts/b1/approve"), (zhang, "GET", "/handoff/queue")]:
        status, body = await staffer.call(method, path, {"title": "x"} if method == "POST" else None)
        assert status == 403 and body["error"] == "forbidden" and "权限" in body["message"], (path, body)
    refused = [(e["actor"], e["target"], e["outcome"]) for e in await audit_entries(redis, api.prefix) if e["action"] == "api.refused"]
    assert refused == [("zhaoliu", "/admin/api/broadcasts", "forbidden"), ("zhaoliu", "/admin/api/broadcasts", "forbidden"),
                       ("zhangsan", "/admin/api/audit", "forbidden"), ("lisi", "/admin/api/broadcasts", "forbidden"),
                       ("zhangsan", "/admin/api/broadcasts/b1/approve", "forbidden"), ("zhangsan", "/admin/api/handoff/queue", "forbidden")]
    # The right roles get through; admin may do all.
    assert (await zhao.ok("GET", "/me")) == {"userid": "zhaoliu", "name": "赵六", "roles": ["agent"]}
    assert "entries" in await Staffer(api, "root").ok("GET", "/audit")


async def test_answers_match_the_document(api, redis):
    await add_followers(api, "/sim/wechat", openids(12))
    zhang, li, root = Staffer(api, "zhangsan"), Staffer(api, "lisi"), Staffer(api, "root")
    broadcast, preview = schema_of("#/components/schemas/Broadcast"), schema_of("#/components/schemas/Preview")
    created = await zhang.ok("POST", "/broadcasts", {"title": "医保缴费提醒", "body": "请于月底前完成缴费。", "audience": {"kind": "all"}}, status=201)
    broadcast.validate(created)
    shown = await zhang.ok("POST", f"/broadcasts/{created['id']}/preview")
    preview.validate(shown)
    assert shown["total"] == 12
    for step, who in (("submit", zhang), ("approve", li)):
        broadcast.validate(await who.ok("POST", f"/broadcasts/{created['id']}/{step}"))
    done = await until_status(li, created["id"], "done")
    broadcast.validate(done)
    listed = await li.ok("GET", "/broadcasts")
    assert [b["id"] for b in listed["broadcasts"]] == [created["id"]]
    for b in listed["broadcasts"]:
        broadcast.validate(b)
    schema_of("#/components/schemas/Member").validate(await li.ok("GET", "/me"))
    entry = schema_of("#/components/schemas/AuditEntry")
    page = await root.ok("GET", "/audit?count=3")
    assert len(page["entries"]) == 3
    for e in page["entries"]:
        entry.validate(e)
    status, body = await zhang.call("POST", f"/broadcasts/{created['id']}/pause")
    assert status == 409
    schema_of("#/components/schemas/Error").validate(body)


async def test_admin_reads_the_whole_audit_log_page_by_page(api):
    await add_followers(api, "/sim/wechat", openids(3))
    zhang, li, root = Staffer(api, "zhangsan"), Staffer(api, "lisi"), Staffer(api, "root")
    preview = await zhang.broadcast({"kind": "all"})
    await li.ok("POST", f"/broadcasts/{preview['id']}/approve")
    await until_status(li, preview["id"], "done")
    seen, after = [], "-"
    for _ in range(100):
        page = await root.ok("GET", f"/audit?count=2&after={after}")
        seen.extend(page["entries"])
        after = page["next"]
        if not page["more"]:
            break
    actions = [(e["actor"], e["action"]) for e in seen]
    assert actions[:5] == [("zhangsan", "broadcast.create"), ("zhangsan", "broadcast.preview"),
                           ("zhangsan", "broadcast.submit"), ("system", "broadcast.approvers.wecom"), ("lisi", "broadcast.approve")]
    assert ("root", "api.audit.read") in actions  # reading the log is itself recorded
    ids = [e["id"] for e in seen]
    assert ids == sorted(ids, key=lambda i: tuple(map(int, i.split("-")))) and len(set(ids)) == len(ids)
    status, body = await root.call("GET", "/audit?after=yesterday")
    assert status == 400 and "after" in body["message"]


async def test_agents_list_the_hand_off_queue_without_personal_data(api):
    handoff = api.server.app[HANDOFF]
    citizen = "oCitizen00000000000000000042"
    await handoff.request(citizen, {"from": "办事指南", "said": ["我的身份证 511602199001011234 办不了社保"]})
    page = await Staffer(api, "zhaoliu").ok("GET", "/handoff/queue")
    assert len(page["queue"]) == 1
    entry = page["queue"][0]
    assert entry["status"] == "waiting" and entry["number"] >= 1
    text = json.dumps(page, ensure_ascii=False)
    assert citizen not in text and "199001011234" not in text and "办不了社保" in text


async def test_parameters_out_of_their_documented_range_are_refused_with_400_not_a_5xx(api):
    """Stream ids, counts and tag ids are bounded by the document (bot/admin/openapi.yaml):
    beyond the bounds a clear 400 naming the parameter, never a 500 from Redis nor a 502 from
    WeChat. Within them, an answer."""
    zhang, root = Staffer(api, "zhangsan"), Staffer(api, "root")
    for query in ("after=99999999999999999999-1", "after=1-99999999999999999999", "after=18446744073709551616",
                  "count=0", "count=1001", "count=-1", "count=" + "9" * 30, "count=1e3"):
        status, body = await root.call("GET", f"/audit?{query}")
        assert status == 400 and body["error"] == "invalid" and query.split("=")[0] in body["message"], (query, status, body)
    for query in ("after=9999999999999999999-9999999999999999999", "after=1764300000000", "count=1000", "count=1"):
        status, body = await root.call("GET", f"/audit?{query}")
        assert status == 200 and "entries" in body, (query, status, body)
    for count in ("0", "201", "-5"):
        status, body = await zhang.call("GET", f"/broadcasts?count={count}")
        assert status == 400 and "count" in body["message"], (count, body)
    assert (await zhang.call("GET", "/broadcasts?count=200"))[0] == 200

    draft = {"title": "标签群发", "body": "测试。", "audience": {"kind": "tag"}}
    for tag_id in (10**30, -1, 2**31):
        status, body = await zhang.call("POST", "/broadcasts", {**draft, "audience": {"kind": "tag", "tag_id": tag_id}})
        assert status == 400 and "tag_id" in body["message"], (tag_id, status, body)
    created = await zhang.ok("POST", "/broadcasts", {**draft, "audience": {"kind": "tag", "tag_id": 2**31 - 1}}, status=201)
    # A tag WeChat does not have is the draft's fault, not WeChat's: nothing to retry later.
    status, body = await zhang.call("POST", f"/broadcasts/{created['id']}/preview")
    assert status == 409 and body["error"] == "unknown_tag" and "标签" in body["message"], (status, body)


async def test_a_body_nested_past_the_json_parsers_depth_is_a_400_not_a_500(api):
    """{"a":{"a":… 3000 deep raised RecursionError out of the handler: a 500."""
    zhang = Staffer(api, "zhangsan")
    resp = await zhang.http.post("/admin/api/broadcasts", data='{"a":' * 3000 + "1" + "}" * 3000,
                                 headers={**zhang.headers, "Content-Type": "application/json"})
    assert resp.status == 400 and "JSON" in (await resp.json())["message"]
