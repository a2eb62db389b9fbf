"""Figures for the chat page (issue 19), printed, never asserted: how long from opening the
invite link to the first question on the page, and how many bytes the page downloads.

    .venv/bin/python tests/web_door_figures.py [--runs 3]

Runs the real server (`myreview serve`, every setting at its default, a fresh database) and
Debian's Chromium at a phone's size. Each run is a fresh browser profile (nothing cached), then
the same link opened again in that profile (Web Chat's bundle cached, as on a second visit).
Measured on this machine's loopback, and again with Chromium's emulation of a phone on a
mobile network (CPU 4x slower; 1.6 Mbit/s down, 750 kbit/s up, 150 ms round trip).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from playwright.async_api import async_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from storage.content import load_content  # noqa: E402
from tests.playground import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.test_web_door import PAGE, PHONE, start_door  # noqa: E402

MOBILE = {
    "offline": False,
    "latency": 150,
    "downloadThroughput": 1.6 * 1024 * 1024 / 8,
    "uploadThroughput": 750 * 1024 / 8,
}


async def visit(context: Any, url: str, wanted: list[str], mobile: bool) -> dict[str, float]:
    """Opens `url` in a new tab of `context`; seconds until each of `wanted` is on the page,
    and bytes received (HTTP bodies and headers as sent, and WebSocket frames)."""
    page = await context.new_page()
    requests: list[Any] = []
    frames: list[int] = []
    page.on("requestfinished", lambda r: requests.append(r))
    page.on(
        "websocket",
        lambda ws: ws.on("framereceived", lambda payload: frames.append(len(payload))),
    )
    if mobile:
        cdp = await context.new_cdp_session(page)
        await cdp.send("Network.enable")
        await cdp.send("Network.emulateNetworkConditions", MOBILE)
        await cdp.send("Emulation.setCPUThrottlingRate", {"rate": 4})
    seen: dict[str, float] = {}
    start = time.perf_counter()
    await page.goto(url, wait_until="commit")
    bubbles = page.locator(PAGE["bot"])
    while len(seen) < len(wanted):
        text = "\n".join(await bubbles.all_inner_texts()).replace("\u2019", "'")
        for words in wanted:
            if words in text and words not in seen:
                seen[words] = time.perf_counter() - start
        if time.perf_counter() - start > 120:
            raise AssertionError(f"not on the page within 120 s: {set(wanted) - set(seen)}")
        await page.wait_for_timeout(20)
    await page.wait_for_timeout(300)  # the last frames and responses of the first question
    http = 0
    bundle = 0
    for request in requests:
        sizes = await request.sizes()
        got = sizes["responseBodySize"] + sizes["responseHeadersSize"]
        http += got
        if "webchat.js" in request.url:
            bundle = got
    await page.close()
    return {
        "welcome": seen[wanted[0]],
        "question": seen[wanted[1]],
        "http": http,
        "bundle": bundle,
        "ws": sum(frames),
        "requests": len(requests),
    }


def line(name: str, values: list[float], unit: str = "s") -> str:
    if unit == "s":
        shown = ", ".join(f"{v:.2f}" for v in values)
        return f"  {name}: median {statistics.median(values):.2f} s ({shown})"
    shown = ", ".join(f"{v / 1024:.0f}" for v in values)
    return f"  {name}: median {statistics.median(values) / 1024:.0f} KB ({shown})"


async def main(runs: int) -> None:
    content = load_content(ROOT / "content")
    welcome = content.text("messages.welcome", "en", "easy")
    question = content.text("questions.name.prompt", "en", "13+")
    with tempfile.TemporaryDirectory() as tmp:
        door = start_door(Path(tmp), web_chats_per_address_per_hour="500")
        try:
            async with async_playwright() as p:
                browser = await p.chromium.launch(
                    executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
                )
                for mobile in (False, True):
                    results: dict[str, list[dict[str, float]]] = {"first": [], "again": []}
                    for _ in range(runs):
                        context = await browser.new_context(viewport=PHONE, locale="en-GB")
                        for visit_name in ("first", "again"):
                            _, code = await door.new_review()
                            url = f"{door.url}/chat#{code}"
                            results[visit_name].append(
                                await visit(context, url, [welcome, question], mobile)
                            )
                        await context.close()
                    print(
                        "Phone on a mobile network (emulated)"
                        if mobile
                        else "Phone size, this machine's loopback"
                    )
                    for visit_name, label in (
                        ("first", "first visit (nothing cached)"),
                        ("again", "second visit (Web Chat cached)"),
                    ):
                        r = results[visit_name]
                        print(f" {label}, {runs} runs:")
                        print(line("link to welcome", [x["welcome"] for x in r]))
                        print(line("link to first question", [x["question"] for x in r]))
                        print(line("HTTP received", [x["http"] for x in r], "B"))
                        print(line("of which Web Chat", [x["bundle"] for x in r], "B"))
                        print(line("WebSocket received", [x["ws"] for x in r], "B"))
                        print(f"  requests: {', '.join(str(x['requests']) for x in r)}")
                await browser.close()
        finally:
            door.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    asyncio.run(main(parser.parse_args().runs))
