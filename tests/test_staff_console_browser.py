"""The console's staff view at /console/staff, driven in headless Chromium (the system's
/usr/bin/chromium, like tests/test_console_browser.py): write a broadcast, have another person
approve it, watch the progress bar and the failures by reason; take a citizen as an agent."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from bot.app import create_app
from bot.web.appkeys import HANDOFF
from tests.test_broadcasts import FAST, STAFF, TOKENS, WECOM, add_followers, openids, received
from tests.support import WAIT_MS

pytestmark = pytest.mark.slow  # a real browser: seconds per test

ALWAYS_ON_DUTY = dict(handoff_weekdays=[1, 2, 3, 4, 5, 6, 7], handoff_hours=["00:00-24:00"])  # 23:59 left the last minute out


@pytest.fixture
async def staff_page(bot_server, aiohttp_client, make_settings, redis, browser):
    settings = make_settings(staff=STAFF, **WECOM, **FAST, **ALWAYS_ON_DUTY)
    app = create_app(settings, redis)
    server = await bot_server(app, port=settings.port)
    http = await aiohttp_client(server)
    context = await browser.new_context(viewport={"width": 1200, "height": 900}, locale="zh-CN")
    page = await context.new_page()
    page.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.on("requestfailed", lambda req: errors.append(f"request failed: {req.method} {req.url} {req.failure}"))
    response = await page.goto(f"http://127.0.0.1:{server.port}/console/staff")
    assert response is not None and response.ok
    await expect(page).to_have_title("ywtb-bot 工作人员控制台")
    page.http, page.app, page.prefix = http, app, settings.key_prefix
    yield page
    await context.close()
    assert not errors, "\n".join(errors)


async def login(page: Page, userid: str, name: str) -> None:
    await page.locator("#token").fill(TOKENS[userid])
    await page.locator("#login").click()
    await expect(page.locator("#me")).to_contain_text(f"已登录：{name}")


async def test_write_approve_and_watch_a_broadcast_to_the_end(staff_page, redis):
    page = staff_page
    people = openids(200, "B")
    await add_followers(page.http, "/sim/wechat", people)
    (await page.http.post("/sim/wechat/_admin/unfollow", json={"openids": people[:5]})).release()
    await redis.sadd(f"{page.prefix}sub:matter:GA-0009", *people)
    (await page.http.post("/sim/wechat/_admin/faults", json={"endpoint": "/cgi-bin/message/template/send", "delay": 0.01, "times": 100000})).release()

    await login(page, "zhangsan", "张三")
    await page.locator("#title").fill("不动产登记窗口调整")
    await page.locator("#body").fill("12月起不动产登记移至市民中心二楼办理。")
    await page.locator("#kind").select_option("matter")
    await page.locator("#target").fill("GA-0009")
    await page.locator("#preview").click()
    await expect(page.locator("#count")).to_have_text("200")
    await expect(page.locator("#preview-text")).to_have_text("【不动产登记窗口调整】\n12月起不动产登记移至市民中心二楼办理。")
    await page.locator("#submit").click()
    await expect(page.locator("#w-status")).to_have_text("待审批")
    await expect(page.locator("#approve")).to_be_hidden()  # a broadcaster cannot approve

    await login(page, "lisi", "李四")
    await page.locator("#list li", has_text="不动产登记窗口调整").click()
    await page.locator("#approve").click()
    await expect(page.locator("#w-status")).to_have_text("发送中")
    await expect(page.locator("#bar")).to_have_attribute("aria-valuenow", "100", timeout=30_000)
    await expect(page.locator("#w-status")).to_have_text("已完成")
    await expect(page.locator("#progress")).to_contain_text("已送达 195 / 200，未送达 5，剩余 0")
    await expect(page.locator("#failures li[data-reason=unfollowed]")).to_have_text("已取消关注：5 人")
    await expect(page.locator("#report")).to_contain_text("已送达 195 人")
    got = await received(page.http, "/sim/wechat", "template")
    assert len(got) == 195 and set(got.values()) == {1}


async def test_pause_and_resume_from_the_page(staff_page, redis):
    page = staff_page
    people = openids(300, "C")
    await add_followers(page.http, "/sim/wechat", people)
    await redis.sadd(f"{page.prefix}sub:dept:区税务局", *people)
    (await page.http.post("/sim/wechat/_admin/faults", json={"endpoint": "/cgi-bin/message/template/send", "delay": 0.03, "times": 100000})).release()
    await login(page, "wangwu", "王五")
    await page.locator("#title").fill("个税汇算提醒")
    await page.locator("#body").fill("请在 6 月 30 日前完成个税汇算。")
    await page.locator("#kind").select_option("department")
    await page.locator("#target").fill("区税务局")
    await page.locator("#preview").click()
    await expect(page.locator("#count")).to_have_text("300")
    await page.locator("#submit").click()
    await page.locator("#approve").click()  # wangwu may approve, but not their own broadcast
    await expect(page.locator("#error")).to_have_text("不能审批自己撰写的群发，请另一位审批人审批")
    await expect(page.locator("#w-status")).to_have_text("待审批")

    await login(page, "lisi", "李四")
    await page.locator("#list li", has_text="个税汇算提醒").click()
    await page.locator("#approve").click()
    await expect(page.locator("#pause")).to_be_visible()
    await page.locator("#pause").click()
    await expect(page.locator("#w-status")).to_have_text("已暂停")
    await expect(page.locator("#resume")).to_be_visible()
    await page.locator("#resume").click()
    await expect(page.locator("#w-status")).to_have_text("已完成", timeout=30_000)
    await expect(page.locator("#progress")).to_contain_text("已送达 300 / 300")


async def test_an_agent_takes_a_citizen_and_answers_from_the_page(staff_page):
    page = staff_page
    citizen = "oCitizenConsole000000000007"
    (await page.http.post("/sim/wechat/_admin/interactions", json={"openid": citizen})).release()
    await page.app[HANDOFF].request(citizen, {"from": "办事指南", "said": ["社保卡丢了怎么补办"]})
    await login(page, "zhaoliu", "赵六")
    await expect(page.locator("#agent")).to_be_visible()
    await expect(page.locator("#queue li")).to_have_count(1)
    await expect(page.locator("#queue li")).to_contain_text("社保卡丢了怎么补办")
    await page.locator("#queue li button", has_text="接入").click()
    await expect(page.locator("#talking")).to_have_text("正在接待 #1")
    await expect(page.locator("#queue li")).to_have_count(0)
    await expect(page.locator("#inbox .msg").first).to_be_visible()  # what WeCom showed the agent
    await page.locator("#reply").fill("您好，补办社保卡请带身份证到大厅 3 号窗口。")
    await page.locator("#reply").press("Enter")
    await expect(page.locator("#reply")).to_have_value("")
    resp = await page.http.get("/sim/wechat/_admin/messages", params={"openid": citizen, "kind": "custom"})
    texts = [m["content"] for m in (await resp.json())["messages"]]
    assert any("3 号窗口" in t for t in texts), texts
    await page.locator("#end").click()
    await expect(page.locator("#talking")).to_have_text("")
