"""The admin API as a client sees it over real HTTP: tokens, roles, the audit trail of refusals,
answers that match bot/web/admin/openapi.yaml, and routes that are exactly the documented ones."""

from __future__ import annotations

import copy
import json

import jsonschema_rs
import pytest
import yaml

from bot.web.admin.api import OPENAPI, ROUTES
from bot.app import HANDOFF
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
    ids = [op["operationId"] for op in documented.values()]
    assert len(ids) == len(set(ids))


async def test_the_app_serves_every_documented_route_under_admin_api(api):
    mounted = {(r.method, r.resource.canonical) for r in api.server.app.router.routes() if r.resource and
               r.resource.canonical.startswith("/admin/api/")}
    assert mounted == {(m, "/admin/api" + p) for m, p, _ in ROUTES}
    resp = await api.get("/admin/api/openapi.yaml")  # the description needs no token
    assert resp.status == 200 and yaml.safe_load(await resp.text()) == DOC


async def test_missing_or_wrong_tokens_are_refused_and_audited(api, redis):
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
    refused = [e for e in await audit_entries(redis, api.prefix) if e["action"] == "api.refused"]
    assert [(e["actor"], e["outcome"], e["target"], e["detail"]["reason"]) for e in refused] == [
        ("anonymous", "unauthenticated", "/admin/api/broadcasts", "no token"),
        ("anonymous", "unauthenticated", "/admin/api/broadcasts", "wrong token"),
        ("anonymous", "unauthenticated", "/admin/api/audit", "no token"),
        ("anonymous", "unauthenticated", "/admin/api/broadcasts/b1/approve", "no token"),
        ("anonymous", "unauthenticated", "/admin/api/me", "wrong token"),
    ]
    assert refused[1]["detail"]["method"] == "POST" and refused[0]["detail"]["ip"] == "127.0.0.1"
    # No token, right or wrong, is ever written down.
    written = json.dumps(refused)
    assert "not-a-real-token" not in written and TOKENS["root"][:-1] not in written


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
    assert actions[:4] == [("zhangsan", "broadcast.create"), ("zhangsan", "broadcast.preview"),
                           ("zhangsan", "broadcast.submit"), ("lisi", "broadcast.approve")]
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
