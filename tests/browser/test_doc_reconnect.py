"""The lesson-document editor keeps working through a network cut and a node restart: y-websocket
reconnects by itself, but with the URL it has, and a document socket's ticket opens one socket once,
so the editor takes a fresh ticket before every connection (webclient/src/editor.js, withTickets).
What was typed while the link was down reaches the server afterwards, and no socket URL ever carries
the sign-in token."""

from __future__ import annotations

import asyncio

import pytest

import harness
from browsing import shot
from studio_seed import new_doc, seed_studio
from yclient import YClient


@pytest.fixture(scope="module")
async def world(database_url):
    if database_url.startswith("postgresql"):
        pytest.skip("the browser tests need one database kind; storage is covered on both elsewhere")
    seed = await seed_studio(database_url)
    doc_id = await new_doc(database_url, seed["studio"], seed["users"]["leader"][0], title="断线重连 教案")
    s = harness.Server(database_url).start()
    yield {"server": s, "doc": doc_id, **seed}
    s.cleanup()


async def stored(world) -> str:
    c = await YClient(f"ws://127.0.0.1:{world['server'].port}/ws/docs/{world['doc']}",
                      world["users"]["leader"][1]).open()
    text = c.content
    await c.close()
    return text


async def type_at_end(page, text: str) -> None:
    await page.click(".ql-editor h1")
    await page.keyboard.press("End")
    await page.keyboard.type(text)


async def test_the_editor_reconnects_with_a_fresh_ticket_after_a_network_cut_and_a_node_restart(browser, world):
    server = world["server"]
    link = await harness.CuttableProxy(server.port).start()  # the teacher's network
    ctx = await browser.new_context(locale="zh-CN")
    await ctx.add_init_script(f"localStorage.setItem('collab_token', {world['users']['member'][1]!r})")
    page = await ctx.new_page()
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    try:
        await page.goto(f"{link.url}/docs/{world['doc']}")
        await page.wait_for_selector("#conn.synced", timeout=15_000)

        # the link goes down for a while; the teacher keeps typing
        link.cut()
        await page.wait_for_selector("#conn:not(.synced)", timeout=10_000)
        await type_at_end(page, "（断网时写的）")
        await asyncio.sleep(2)  # several reconnects fail meanwhile, ticket requests included
        link.restore()
        await page.wait_for_selector("#conn.synced", timeout=20_000)
        for _ in range(50):
            if "（断网时写的）" in await stored(world):
                break
            await asyncio.sleep(0.2)
        assert "（断网时写的）" in await stored(world)

        # the node restarts (SIGTERM: it closes the socket with 4012) while the teacher types
        server.stop()
        await page.wait_for_selector("#conn:not(.synced)", timeout=10_000)
        await type_at_end(page, "（重启时写的）")
        server.start()
        await page.wait_for_selector("#conn.synced", timeout=30_000)
        for _ in range(50):
            if "（重启时写的）" in await stored(world):
                break
            await asyncio.sleep(0.2)
        text = await stored(world)
        assert "（断网时写的）" in text and "（重启时写的）" in text
        assert text == await page.evaluate("window.collabEditor.text.toString()")
        await shot(page, "doc-editor-reconnected")
    finally:
        await ctx.close()
        await link.close()

    docs = [u for u in sockets if "/ws/docs/" in u]
    assert len(docs) >= 3, sockets  # the first connection, after the cut, after the restart
    assert all("ticket=" in u and "token=" not in u for u in docs), docs
    tickets = [u.split("ticket=", 1)[1] for u in docs]
    assert len(set(tickets)) == len(tickets)  # a fresh ticket for every connection
