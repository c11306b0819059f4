"""The dev console at /console, driven end to end in headless Chromium.

The app is served over real HTTP on loopback; the page asks the server to sign and AES-encrypt
each message, which is POSTed to /wechat, and the decrypted reply is shown as a chat bubble.
These tests check what a developer would see on the page, not the JSON behind it.

Needs a system Chromium (Debian: ``apt-get install chromium``); Playwright's own browser
download is not used. The `browser` fixture is in tests/conftest.py."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from bot.dev.console import MENU_BUTTONS
from tests.support import WAIT_MS

pytestmark = pytest.mark.slow  # a real browser: seconds per test

@pytest.fixture
async def console(bot_server, app, settings, browser):
    """The console page, loaded from a real server, with its menu bar in place.

    Yields the page; any uncaught script error or failed request on the page fails the test."""
    server = await bot_server(app, port=settings.port)
    context = await browser.new_context(viewport={"width": 1180, "height": 820}, locale="zh-CN")
    page = await context.new_page()
    page.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))

    def on_console(msg) -> None:
        # Chromium asks for /favicon.ico on its own; the page declares no icon, so that 404 is noise.
        if msg.type == "error" and not msg.location.get("url", "").endswith("/favicon.ico"):
            errors.append(f"console.{msg.type}: {msg.text} @ {msg.location.get('url')}")

    page.on("console", on_console)
    page.on("requestfailed", lambda req: errors.append(f"request failed: {req.method} {req.url} {req.failure}"))
    page.on("response", lambda resp: errors.append(f"HTTP {resp.status} for {resp.url}") if resp.status >= 400 else None)

    response = await page.goto(f"http://127.0.0.1:{server.port}/console")
    assert response is not None and response.ok, response and response.status
    await expect(page).to_have_title("ywtb-bot 开发控制台")
    # The menu bar comes from /console/api/info; once it is drawn the page is ready.
    await expect(page.locator("#menu button")).to_have_count(len(MENU_BUTTONS), timeout=WAIT_MS)
    yield page
    await context.close()
    assert not errors, "\n".join(errors)


async def say(page: Page, text: str):
    """Type into the composer, press Enter, and return the new bot bubble (after it appears)."""
    bots = page.locator("#log .msg.bot")
    before = await bots.count()
    await page.locator("#text").fill(text)
    await page.locator("#text").press("Enter")
    await expect(page.locator("#text")).to_have_value("")
    await expect(bots).to_have_count(before + 1, timeout=WAIT_MS)
    return bots.nth(before)


async def click_menu(page: Page, title: str):
    bots = page.locator("#log .msg.bot")
    before = await bots.count()
    await page.locator("#menu button", has_text=title).click()
    await expect(bots).to_have_count(before + 1, timeout=WAIT_MS)
    return bots.nth(before)


async def switch_to(page: Page, user: str) -> None:
    await page.locator("#users button", has_text=user).click()
    await expect(page.locator("#users button.active")).to_have_text(user)
    await expect(page.locator("#who")).to_have_text(user)


async def test_page_shows_menu_bar_and_users(console):
    page = console
    await expect(page.locator("#menu button")).to_have_text(
        ["办事指南", "预约办事", "查办件进度", "服务大厅地址和时间", "人工服务", "我的预约", "我的订阅", "企业绑定·办件·证照", "评价（好差评）", "我的证照", "主菜单"]
    )
    await expect(page.locator("#users button")).to_have_text(["citizen-a", "citizen-b", "company-c"])
    await expect(page.locator("#users button.active")).to_have_text("citizen-a")
    await expect(page.locator("#who")).to_have_text("citizen-a")
    await expect(page.locator("#log > *")).to_have_count(0)


async def test_chat_through_the_console(console, tmp_path):
    page = console

    # A greeting gets the main menu, through the encrypted (安全模式) webhook.
    menu = await say(page, "你好")
    await expect(menu).to_contain_text("请回复序号选择")
    await expect(menu).to_contain_text("4. 服务大厅地址和时间")
    await expect(page.locator("#log .msg.me").last).to_have_text("你好")
    await expect(page.locator("#mode")).to_contain_text("安全模式")
    await expect(page.locator("#mode")).to_contain_text("AES")
    await expect(page.locator("#mode")).to_contain_text("HTTP 200")
    # The raw reply shown is the ciphertext envelope, not the plain text.
    await expect(page.locator("#raw")).to_contain_text("<Encrypt>")
    await expect(page.locator("#raw")).not_to_contain_text("请回复序号选择")

    # A menu-bar button opens the halls dialog; "1" picks the first hall.
    listing = await click_menu(page, "服务大厅地址和时间")
    await expect(listing).to_contain_text("本区服务大厅")
    await expect(page.locator("#log .msg.me").last).to_have_text("[菜单] 服务大厅地址和时间")
    detail = await say(page, "1")
    await expect(detail).to_contain_text("洪洲大道二段55号")
    a_bubbles = await page.locator("#log > *").all_inner_texts()
    assert len(a_bubbles) == 6, a_bubbles  # 3 x (me, bot), no error notes

    await page.screenshot(path=str(tmp_path / "console-citizen-a.png"), full_page=True)

    # Another user starts with an empty log and a conversation of their own:
    # "1" at their fresh menu means 办事指南, not the first hall.
    await switch_to(page, "citizen-b")
    await expect(page.locator("#log > *")).to_have_count(0)
    other = await say(page, "1")
    await expect(other).to_contain_text("请说说您想办什么事")
    await expect(other).not_to_contain_text("洪洲大道")
    await expect(page.locator("#log .msg")).to_have_count(2)
    await expect(page.locator("#log")).not_to_contain_text("本区服务大厅")

    await page.screenshot(path=str(tmp_path / "console-citizen-b.png"), full_page=True)

    # Back to citizen-a: their history is redrawn exactly as it was.
    await switch_to(page, "citizen-a")
    await expect(page.locator("#log > *")).to_have_count(len(a_bubbles))
    assert await page.locator("#log > *").all_inner_texts() == a_bubbles
    await expect(page.locator("#log")).not_to_contain_text("功能即将上线")
    # ...and their conversation carried on where it was: still in the halls dialog.
    again = await say(page, "1")
    await expect(again).to_contain_text("洪洲大道二段55号")


async def test_new_user_button_adds_a_fresh_user(console):
    page = console
    await say(page, "你好")
    await page.locator("#add-user").click()
    await expect(page.locator("#users button")).to_have_count(4)
    active = page.locator("#users button.active")
    await expect(active).to_have_text(re.compile(r"^visitor-[a-z0-9]+$"))
    await expect(page.locator("#who")).to_have_text(await active.inner_text())
    await expect(page.locator("#log > *")).to_have_count(0)
    menu = await say(page, "你好")
    await expect(menu).to_contain_text("请回复序号选择")


async def test_a_pushed_menu_shows_as_buttons_that_send_the_choice(console, app):
    """What the bot pushes as a msgmenu (its choices, WeChatClient.send_reply) is drawn with a
    button per item; a click sends the item as a WeChat tap, which answers that number."""
    from bot.web.appkeys import WECHAT

    page = console
    await say(page, "你好")  # citizen-a writes: the push window is open, and the main menu is on screen
    # Labels that mean nothing typed: only the item's id (1: 办事指南 at the menu) can answer.
    await app[WECHAT].send_reply("citizen-a", "想先做哪件事？\n1. 第一件\n2. 第二件")
    buttons = page.locator("#log .msg.pushed .choices button")
    await expect(buttons).to_have_text(["第一件", "第二件"], timeout=WAIT_MS)
    bots = page.locator("#log .msg.bot")
    before = await bots.count()
    await buttons.first.click()
    await expect(page.locator("#log .msg.me").last).to_have_text("第一件")
    await expect(bots).to_have_count(before + 1, timeout=WAIT_MS)
    await expect(bots.nth(before)).to_contain_text("请说说您想办什么事")  # the tap answered "1" at the menu
