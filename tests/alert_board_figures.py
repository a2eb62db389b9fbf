"""Figures for the duty board (issue 18), printed, never asserted: how long from a child's
disclosure to its alert on the duty board, and how long the board takes to open.

    .venv/bin/python tests/alert_board_figures.py [--runs 30] [--open 300]

The whole app over loopback HTTP (a fresh SQLite file, a local connector), a duty worker
signed in. Each run: a new chat with no code sends a disclosure while the worker's browser
reloads the board's "Not taken" queue as fast as it can; the figure is from the moment the
message is posted to the first board that shows one more alert. The board polling is part of
the load, as a duty team watching the board would be. `--open` alerts are made first (through
the repository, in chats of their own), so the board is not empty.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.app import PARTS, create_app  # noqa: E402
from storage.models import SafeguardingAlertBase  # noqa: E402
from tests.channel import Connector  # noqa: E402
from tests.chat import Chat  # noqa: E402
from tests.conftest import make_settings  # noqa: E402
from tests.staff import make_staff, signed_in  # noqa: E402

NOT_TAKEN = re.compile(r"Not taken \((\d+)\)")


async def not_taken(client: TestClient) -> int:
    page = await (await client.get("/staff?queue=unowned")).text()
    found = NOT_TAKEN.search(page)
    assert found, "no queue count on the board"
    return int(found.group(1))


async def first_board_with_more(client: TestClient, before: int, t0: float) -> float:
    """Reloads the board until it shows more than `before` alerts not taken: seconds since t0."""
    while await not_taken(client) <= before:
        pass
    return time.perf_counter() - t0


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def figures(runs: int, already_open: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        # A worker posting at once on the board would be slowed by the held-alert limit's
        # digest path otherwise: the figure is for an alert that is emailed at once.
        settings = make_settings(Path(tmp), duty_alerts_per_hour=10_000)
        conn = Connector()
        channel = TestServer(conn.app)
        await channel.start_server()
        url = str(channel.make_url("/")).rstrip("/") + "/"
        async with TestClient(TestServer(create_app(settings))) as client:
            parts = client.app[PARTS]
            # Emailed long ago: summarised in the same transaction, or housekeeping would
            # queue an email for each.
            async with parts.repos.db.unit_of_work():
                seeded = []
                for n in range(already_open):
                    alert, _ = await parts.repos.alerts.create_once(
                        data=SafeguardingAlertBase(
                            categories=["physical_abuse"],
                            channel_id="webchat",
                            conversation_id=f"seed-{n}",
                        ),
                        review_id=None,
                        message=f"seed {n}",
                        activity_id=None,
                    )
                    seeded.append(alert.id or 0)
                await parts.repos.alerts.mark_summarised(alert_ids=seeded)
            await make_staff(parts, email="duty@council.example", role="duty", name="Dee")
            await signed_in(client, "duty@council.example")
            opened = []
            for _ in range(5):
                t0 = time.perf_counter()
                await not_taken(client)
                opened.append(time.perf_counter() - t0)
            visible, turns = [], []
            for n in range(runs):
                chat = Chat(client, conn, url, channel_id="webchat", user_id=f"child-{n}")
                await chat.start()
                before = await not_taken(client)
                t0 = time.perf_counter()
                watcher = asyncio.create_task(first_board_with_more(client, before, t0))
                await chat.say(f"my stepdad hurts me {n}")
                turns.append(time.perf_counter() - t0)
                visible.append(await asyncio.wait_for(watcher, timeout=30))
        await channel.close()
    ms = 1000
    print(
        f"duty board: disclosure to alert on the board, {runs} runs with {already_open} open "
        f"alerts: median {statistics.median(visible) * ms:.0f} ms, p95 "
        f"{quantile(visible, 0.95) * ms:.0f} ms, max {max(visible) * ms:.0f} ms "
        f"(the disclosure's whole turn: median {statistics.median(turns) * ms:.0f} ms)"
    )
    print(
        f"duty board: opening the 'not taken' queue ({already_open} alerts): median "
        f"{statistics.median(opened) * ms:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--open", type=int, default=300)
    args = parser.parse_args()
    asyncio.run(figures(args.runs, args.open))


if __name__ == "__main__":
    main()
