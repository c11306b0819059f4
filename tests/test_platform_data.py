"""The platform simulator's data (guides, halls, bundles) is well-formed and consistent with the
district catalog, so the simulator can serve it and the bot can merge it with the catalog."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from integrations.platform.models import Bundle, Guide, Hall

DATA = Path(__file__).resolve().parents[1] / "integrations" / "platform" / "data"


def _load(name: str):
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def _catalog() -> list[dict]:
    return _load("catalog.json")["matters"]


GUIDES = [Guide.model_validate(g) for g in _load("guides.json")]
HALLS = [Hall.model_validate(h) for h in _load("halls.json")]
BUNDLES = [Bundle.model_validate(b) for b in _load("bundles.json")]
BY_CODE = {g.code: g for g in GUIDES}
HALL_BY_ID = {h.id: h for h in HALLS}
CODE_SHAPE = re.compile(r"^[0-9A-Z][0-9A-Z-]*-51160[02]000000-000-[0-9A-Za-z-]+-\d-00$")


def test_files_validate_and_sizes():
    assert len(GUIDES) >= 65
    assert len(HALLS) >= 6
    assert len(BUNDLES) >= 4


def test_codes_unique():
    assert len(BY_CODE) == len(GUIDES)
    assert len(HALL_BY_ID) == len(HALLS)
    assert len({b.code for b in BUNDLES}) == len(BUNDLES)
    window_ids = [w.id for h in HALLS for w in h.windows]
    assert len(window_ids) == len(set(window_ids))


def test_guides_match_catalog():
    catalog = _catalog()
    by_code = {m["implementation_code"]: m for m in catalog}
    names: dict[str, set[str]] = {}
    for m in catalog:
        names.setdefault(m["name"], set()).add(m["implementation_code"])
    for g in GUIDES:
        assert CODE_SHAPE.match(g.code), g.code
        if g.code in by_code:
            m = by_code[g.code]
            assert (g.name, g.department) == (m["name"], m["department"]), g.code
            assert (g.type.code, g.type.name) == (int(m["type_code"]), m["type"]), g.code
        else:
            # an invented code (city-level or missing matter) must not pose as a catalog matter
            assert g.name not in names, f"{g.name} is in the catalog under {names.get(g.name)}"
            assert "-511602000000-" not in g.code or g.department.startswith("区"), g.code


def test_guides_are_complete():
    for g in GUIDES:
        assert 2 <= len(g.aliases) <= 6, g.name
        assert g.keywords and g.conditions and g.materials and g.process and g.legal_basis, g.name
        assert g.halls, g.name
        assert g.result and g.source, g.name
        assert g.consult_phone.startswith("0826-"), g.name
        assert g.complaint_phone == "12345", g.name
        assert g.promised_days <= g.statutory_days or g.statutory_days == 0, g.name
        assert g.delivery, g.name
        if g.online_depth == 4:
            assert g.visits == 0, g.name
        for f in g.fees:
            assert f.item and f.amount, g.name


def test_situational_materials_name_defined_situations():
    for g in GUIDES:
        defined = {s.code for s in g.situations}
        assert len(defined) == len(g.situations), f"duplicate situation code in {g.name}"
        for m in g.materials:
            if m.required == "situational":
                assert m.situations, (g.name, m.name)
                assert set(m.situations) <= defined, (g.name, m.name, m.situations)
            else:
                assert not m.situations, (g.name, m.name)
        groups: dict[str, int] = {}
        for s in g.situations:
            if s.group:
                groups[s.group] = groups.get(s.group, 0) + 1
        assert all(n >= 2 for n in groups.values()), f"a group with one situation in {g.name}"


def test_agent_situation_needs_id_and_power_of_attorney():
    for g in GUIDES:
        if any(s.code == "agent" for s in g.situations):
            agent_mats = [m.name for m in g.materials if "agent" in m.situations]
            assert any("委托" in n for n in agent_mats), g.name
            assert any("代理人" in n for n in agent_mats), g.name


def test_halls_serve_their_guides():
    for g in GUIDES:
        for hid in g.halls:
            assert hid in HALL_BY_ID, (g.name, hid)
            assert any(g.code in w.matters for w in HALL_BY_ID[hid].windows), (g.name, hid)
    for h in HALLS:
        assert 3 <= len(h.windows) <= 8, h.id
        assert 30.45 <= h.lat <= 30.50 and 106.60 <= h.lng <= 106.66, h.id
        assert h.hours and h.hours_text and h.address and h.phone, h.id
        for w in h.windows:
            assert w.matters, w.id
            for code in w.matters:
                assert code in BY_CODE, (w.id, code)
                assert h.id in BY_CODE[code].halls, (w.id, BY_CODE[code].name)


def test_bookable_guides_have_a_hall():
    bookable = [g for g in GUIDES if g.bookable]
    assert len(bookable) >= 20
    served = {code for h in HALLS for w in h.windows for code in w.matters}
    for g in bookable:
        assert g.code in served, g.name


def test_bundles_reference_known_codes():
    known = set(BY_CODE) | {m["implementation_code"] for m in _catalog()}
    for b in BUNDLES:
        assert len(b.matters) >= 2, b.code
        assert len(set(b.matters)) == len(b.matters), b.code
        for code in b.matters:
            assert code in known, (b.name, code)
    names = {b.name for b in BUNDLES}
    for expected in ("企业开办一件事", "出生一件事", "退休一件事"):
        assert expected in names


TOPICS = {
    "身份证": ["居民身份证办理（包括临时）", "居民身份证挂失申报、丢失招领"],
    "户口": ["户口迁移审批", "户口登记", "居民户口簿补领、换领"],
    "居住证": ["居住证办理"],
    "社保卡": ["社会保障卡申领", "社会保障卡补领、换领、换发"],
    "养老": ["企业职工基本养老保险正常退休申请"],
    "失业": ["失业保险金申领"],
    "医保": ["住院费用报销", "异地安置退休人员备案"],
    "婚姻": ["中国内地公民婚姻登记", "补领结婚证"],
    "生育": ["《出生医学证明》首次签发", "生育津贴支付", "生育医疗费支付"],
    "个体户": ["个体工商户设立登记", "个体工商户变更登记（备案）", "个体工商户注销登记"],
    "公司": ["公司设立登记", "公司变更登记", "公司注销登记"],
    "食品": ["食品(含保健食品)经营许可核发", "食品(含保健食品)经营许可延续", "食品(含保健食品)经营许可变更经营项目"],
    "税务": ["一照一码户信息确认（县级行使）", "发票领用(县级行使）", "开具个人所得税纳税记录（县级行使）"],
    "施工": ["建筑工程施工许可证核发"],
    "无犯罪": ["无犯罪记录证明"],
    "出入境": ["普通护照签发", "往来港澳通行证及签注签发"],
    "车驾管": ["机动车驾驶证换证、补证", "机动车注册登记"],
    "公积金": ["住房公积金提取", "住房公积金个人住房贷款"],
    "不动产": ["国有建设用地使用权及房屋所有权转移登记", "不动产抵押权首次登记", "国有建设用地使用权及房屋所有权首次登记"],
    "残疾": ["残疾人证新办"],
    "低保": ["最低生活保障"],
    "执业": ["医师新办执业注册", "药品零售企业经营许可"],
}


@pytest.mark.parametrize("topic", sorted(TOPICS))
def test_topic_present(topic):
    names = {g.name for g in GUIDES}
    for name in TOPICS[topic]:
        assert name in names, f"{topic}: {name}"


@pytest.mark.parametrize(
    "alias",
    ["身份证丢了补办", "办身份证", "开个体户", "开公司", "暂住证", "社保卡丢了", "领退休金", "领失业金", "医保报销",
     "领结婚证", "上户口", "办护照", "开无犯罪证明", "户口本补领", "公积金提取", "二手房过户"],
)
def test_colloquial_alias_present(alias):
    assert any(alias in g.aliases for g in GUIDES), alias


def test_id_card_situations_and_fees():
    g = next(g for g in GUIDES if g.name == "居民身份证办理（包括临时）")
    kinds = {s.code for s in g.situations if s.group == "kind"}
    assert {"first", "renewal", "lost"} <= kinds
    amounts = " ".join(f.amount for f in g.fees)
    assert "20元" in amounts and "40元" in amounts
    minor_only = [m.name for m in g.materials if m.situations == ["minor"]]
    assert minor_only, "a minor needs the guardian's materials"


# 一件事 bundles, e-licences and benefits ---------------------------------------------------------

def test_every_bundle_matter_has_a_full_guide_and_one_hall_serves_all_of_a_bundle():
    for b in BUNDLES:
        assert b.promised_days > 0, b.name
        for code in b.matters:
            assert code in BY_CODE, (b.name, code)
        one_visit = [h.id for h in HALLS if all(any(code in w.matters for w in h.windows) for code in b.matters)]
        assert one_visit, f"no hall serves every matter of {b.name}"


def test_a_bundles_merged_material_list_counts_a_shared_document_once():
    """The same document (身份证, 营业执照...) has one code everywhere, so a bundle's list de-duplicates."""
    for b in BUNDLES:
        codes = [m.code for code in b.matters for m in BY_CODE[code].materials if m.code]
        assert len(set(codes)) < len(codes), f"{b.name}: no material shared between its matters"
    for g in GUIDES:
        coded = [m.code for m in g.materials if m.code]
        assert len(coded) == len(set(coded)), f"{g.name} asks for one document twice"
    startup = next(b for b in BUNDLES if b.name == "企业开办一件事")
    ids = [code for code in startup.matters if any(m.code == "id_card" for m in BY_CODE[code].materials)]
    assert len(ids) >= 2, "企业开办: the applicant's 身份证 should be one material across its matters"


def test_licence_types_come_from_guide_results_and_renew_through_known_matters():
    types = _load("licence_types.json")
    results = {g.result for g in GUIDES}
    known = set(BY_CODE) | {m["implementation_code"] for m in _catalog()}
    assert len({t["name"] for t in types}) == len(types)
    for t in types:
        assert set(t.get("results", [])) <= results, t["name"]
        assert t.get("renewal") is None or t["renewal"] in known, t["name"]
        assert t["holder"] in ("citizen", "enterprise") and t["issuer"], t["name"]
        assert "{serial" in t["number"] or t["number"] == "{credit_code}", t["name"]  # numbers never repeat
    # each licence an enterprise is reminded of can be renewed with a guide (card and booking)
    for t in types:
        if t["holder"] == "enterprise" and t.get("industries") and t.get("renewal"):
            assert t["renewal"] in BY_CODE and BY_CODE[t["renewal"]].bookable, t["name"]


def test_benefits_say_what_how_long_how_to_query_and_how_to_object():
    benefits = _load("benefits.json")
    assert {b["holder"] for b in benefits} == {"citizen", "enterprise"}
    for b in benefits:
        assert b["name"] and b["department"] and b["basis"] and b["how_to_query"] and b["how_to_object"], b["code"]
        assert "{amount}" in b["content"] and "{year}" in b["period"], b["code"]
