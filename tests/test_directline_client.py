"""The web door's channel with the official Direct Line client (botframework-directlinejs, run
by node) against the real server as a subprocess: start, post, receive with watermarks, over the
WebSocket stream and by polling; and a kill -9 mid-chat that loses no reply, the client
reconnecting by itself once the server is back."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.crashchannel import BotProcess, bot_env, free_port
from tests.test_crash import DATA_KEYS, ROOT, create_reviews

pytestmark = pytest.mark.crash

NODE = shutil.which("node") or "node"
CLIENT = Path(__file__).with_name("directline_client.js")
EN = yaml.safe_load((ROOT / "content/locales/en.yaml").read_text())["messages"]


class OfficialClient:
    """node running botframework-directlinejs; what it prints, parsed."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.seen: list[dict[str, Any]] = []
        self._n = 0

    @classmethod
    async def open(cls, base: str, mode: str) -> OfficialClient:
        proc = await asyncio.create_subprocess_exec(
            NODE,
            str(CLIENT),
            base,
            mode,
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=sys.stderr,
        )
        return cls(proc)

    async def post(self, text: str, client_id: str | None = None) -> str:
        """Sends a message; again with the same client id, it is the child tapping "Retry"."""
        self._n += 1
        client_id = client_id or f"c{self._n}"
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"post": text, "id": client_id}).encode() + b"\n")
        await self.proc.stdin.drain()
        return client_id

    async def until(self, test: Any, timeout: float = 60, since: int = 0) -> dict[str, Any]:
        """Reads what the client prints until a line (from line `since`) passes `test`."""
        for line in self.seen[since:]:
            if test(line):
                return line
        assert self.proc.stdout is not None
        async with asyncio.timeout(timeout):
            while True:
                raw = await self.proc.stdout.readline()
                assert raw, "the client stopped"
                line = json.loads(raw)
                self.seen.append(line)
                if test(line):
                    return line

    def bot_text(self) -> str:
        return "\n".join(
            (x["activity"].get("text") or "")
            for x in self.seen
            if "activity" in x and x["activity"]["from"].get("role") == "bot"
        )

    async def close(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


def bot_says(words: str):
    head = words.split("{")[0].strip()
    return lambda line: "activity" in line and head in (line["activity"].get("text") or "")


@pytest.mark.parametrize("mode", ["websocket", "poll"])
async def test_the_official_client_starts_posts_and_receives_with_watermarks(tmp_path, mode):
    port = free_port()
    env = bot_env(tmp_path, port=port, root=ROOT, data_keys=DATA_KEYS)
    [(_, code)] = (await create_reviews(env, 1, 3)).values()
    bot = BotProcess(ROOT, env, port, tmp_path / "server.log")
    await bot.start()
    client = await OfficialClient.open(bot.url, mode)
    try:
        await client.until(lambda line: line.get("status") == "Online")
        await client.until(bot_says(EN["welcome"]))
        sent = await client.post(code)
        # Its own message comes back marked with its client id (Web Chat shows it as sent).
        await client.until(
            lambda line: (
                "activity" in line
                and (line["activity"].get("channelData") or {}).get("clientActivityID") == sent
            )
        )
        await client.until(lambda line: line.get("clientId") == sent)  # the post's id
        await client.until(bot_says(EN["linked"]))
        marks = [int(x["watermark"]) for x in client.seen if x.get("watermark")]
        assert marks == sorted(marks) and marks[-1] > 0
        # The code never appears in the server's log.
        await client.post("English")
        await client.until(
            lambda line: (
                "activity" in line and "name" in (line["activity"].get("text") or "").lower()
            )
        )
    finally:
        await client.close()
        await bot.stop()
    log = (tmp_path / "server.log").read_text()
    assert code not in log
    # Nor any token: the stream URL carries one, and the access log leaves queries out.
    assert "/activities" in log and "?t=" not in log and "eyJ" not in log
    if mode == "websocket":
        assert "/stream" in log


async def test_a_kill_mid_chat_loses_no_reply_and_the_client_reconnects(tmp_path):
    port = free_port()
    env = bot_env(tmp_path, port=port, root=ROOT, data_keys=DATA_KEYS)
    [(_, code)] = (await create_reviews(env, 1, 4)).values()
    bot = BotProcess(ROOT, env, port, tmp_path / "server.log")
    await bot.start()
    client = await OfficialClient.open(bot.url, "websocket")
    try:
        await client.until(bot_says(EN["welcome"]))
        await client.post(code)
        await client.until(bot_says(EN["linked"]))
        answers = ["English", "Sammy", "skip", "1"]
        for n, answer in enumerate(answers):
            mark = len(client.seen)
            sent = await client.post(answer)
            if n % 2 == 0:
                # Killed as the message arrives: it may not have arrived, or its turn may be
                # done, half done or not begun.
                await asyncio.sleep(0.05 * n)
                await bot.kill()
                await bot.start()
            result = await client.until(
                lambda line, sent=sent: sent in (line.get("clientId"), line.get("postFailed")),
                since=mark,
                timeout=90,
            )
            if result.get("posted") == "retry" or "postFailed" in result:
                # Web Chat shows "Send failed. Retry"; the child taps it: the same message,
                # the same client id, taken once whether or not the first one arrived.
                await client.post(answer, client_id=sent)
            echoed = await client.until(
                lambda line, sent=sent: (
                    "activity" in line
                    and (line["activity"].get("channelData") or {}).get("clientActivityID") == sent
                ),
                timeout=90,
            )
            # A reply to it reaches the client, on the stream it reconnected by itself.
            their_id = echoed["activity"]["id"]
            await client.until(
                lambda line, their_id=their_id: (
                    "activity" in line and line["activity"].get("replyToId") == their_id
                ),
                timeout=90,
            )
        # Each message was answered, and nothing was said twice to the same message.
        replies: dict[str, list[str]] = {}
        for line in client.seen:
            if "activity" in line and line["activity"].get("replyToId"):
                replies.setdefault(line["activity"]["replyToId"], []).append(line["activity"]["id"])
        for ids in replies.values():
            assert len(ids) == len(set(ids)), replies
    except BaseException:
        print("\n".join(json.dumps(x)[:300] for x in client.seen[-30:]))
        print(bot.log_tail(60))
        raise
    finally:
        await client.close()
        await bot.stop()
