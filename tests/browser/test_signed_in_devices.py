"""Sign-in sessions as a teacher meets them in Chromium: the page renews its token before it expires and
keeps its one connection (refresh on /ws); the home page lists the signed-in devices, and signing one
out from another sends that page to the sign-in page at once; signing out ends the token on the server."""

from __future__ import annotations

import asyncio

import httpx
import pytest

import harness
from browsing import shot


@pytest.fixture(scope="module")
async def server(database_url, users):
    if database_url.startswith("postgresql"):
        pytest.skip("the browser tests need one database kind; storage is covered on both elsewhere")
    s = harness.Server(database_url, token_ttl=6).start()  # sign-in tokens live 6 s: renewed after 4
    yield s
    s.cleanup()


async def sign_in(browser, base_url: str, username: str, agent: str):
    context = await browser.new_context(locale="en-US", user_agent=agent)
    page = await context.new_page()
    sockets = []
    page.on("websocket", lambda ws: sockets.append(ws) if ws.url.endswith("/ws") else None)
    await page.goto(base_url + "/")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", "password-" + username)
    await page.click("button[type=submit]")
    await page.wait_for_selector("#conn.online", timeout=15_000)
    return context, page, sockets


async def stored_token(page) -> str:
    return await page.evaluate("localStorage.getItem('collab_token')")


async def test_the_page_renews_its_token_and_keeps_its_one_connection_past_the_first_expiry(browser, server, users):
    context, page, sockets = await sign_in(browser, server.url, "teacher1", "Chromium on the teacher's desk")
    first = await stored_token(page)
    await asyncio.sleep(9)  # past the first token's 6 s
    assert await stored_token(page) != first  # renewed (POST /api/token/refresh) ...
    assert len(sockets) == 1 and not sockets[0].is_closed()  # ... and sent as `refresh`: no reconnect
    assert "online" in await page.get_attribute("#conn", "class")
    async with httpx.AsyncClient(base_url=server.url) as http:  # and the connection is still served
        r = await http.post("/api/announcements", json={"channel": "announce:all", "body": "after the renewal"},
                            headers={"Authorization": f"Bearer {users['org1'][1]}"})
        assert r.status_code == 201
    await page.wait_for_function("document.querySelector('#feed').innerText.includes('after the renewal')",
                                 timeout=10_000)
    await context.close()


async def test_a_device_signed_out_from_another_goes_to_sign_in_and_sign_out_ends_the_token(browser, server):
    phone_ctx, phone, _ = await sign_in(browser, server.url, "teacher2", "Phone browser")
    desk_ctx, desk, _ = await sign_in(browser, server.url, "teacher2", "Desk browser")
    await desk.wait_for_function("document.querySelectorAll('#device-list li').length >= 2", timeout=10_000)
    items = await desk.locator("#device-list li").all_inner_texts()
    assert any("Desk browser" in t and "this device" in t for t in items), items
    assert any("Phone browser" in t and "this device" not in t for t in items), items
    await shot(desk, "signed-in-devices")
    await desk.click("#device-list li:has-text('Phone browser') button.end-device")
    await phone.wait_for_url("**/signin**", timeout=10_000)  # its connection closed (4006): sign in again
    await desk.wait_for_function("!document.querySelector('#device-list').innerText.includes('Phone browser')")
    token = await stored_token(desk)
    await desk.click("#signout")
    await desk.wait_for_url("**/signin**", timeout=10_000)
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "token_revoked"  # useless, not just forgotten
    await phone_ctx.close()
    await desk_ctx.close()
