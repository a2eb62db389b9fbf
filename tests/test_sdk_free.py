"""The conversation (dialogs/) runs without the Bot Framework SDK: in an interpreter where
importing botbuilder, botframework or msrest fails, every module of dialogs/ imports, a question
renders for Teams and for Web Chat as plain JSON activities, a typed answer is classified, and a
waterfall waits for the child and carries on. bot/ is the only folder that adapts an SDK."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

WITHOUT_THE_SDK = r"""
import importlib, importlib.abc, pkgutil, sys, asyncio, json

class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("botbuilder", "botframework", "msrest"):
            raise ImportError(f"{name}: the conversation imported an SDK")

sys.meta_path.insert(0, Refuse())
import dialogs
for module in pkgutil.iter_modules(dialogs.__path__):
    importlib.import_module(f"dialogs.{module.name}")

from dialogs.ask import Incoming, classify
from dialogs.engine import END_OF_TURN, Dialogs
from dialogs.recognize import Choice
from dialogs.render import AskView, Control, question_activity
from storage.content import load_content

view = AskView(
    key="where", nonce=3, type="single", prompt="Where?",
    options=(Choice("school", "At school"), Choice("home", "Where I live")),
    controls=(Control("help", "Help"),), submit_label="OK", rtl=False,
)
teams = question_activity(view, "msteams", "en")
card = teams["attachments"][0]
assert card["contentType"] == "application/vnd.microsoft.card.adaptive", teams
sets = [b for b in card["content"]["body"] if b["type"] == "ActionSet"]
taps = [a["data"] for b in sets for a in b["actions"]]
assert {"q": "where", "n": 3, "choice": "school"} in taps, taps
web = question_activity(view, "webchat", "en")
assert [a["type"] for a in web["suggestedActions"]["actions"]] == ["messageBack"] * 3, web
json.dumps([teams, web])

content = load_content(__import__("pathlib").Path("content"))
verdict = classify(
    content.question("where"), {"key": "where", "qid": "where", "n": 3},
    Incoming("2", None, None), list(view.options), lambda text: None, paused=False, burst=False,
)
assert verdict.kind == "answer" and verdict.answer == ("choice", "home"), verdict

class Ask:
    async def begin(self, dc, options):
        return END_OF_TURN
    async def continue_(self, dc):
        return await dc.end(dc.context.activity.text)
    async def resume(self, dc, result):
        return END_OF_TURN
    async def reprompt(self, dc):
        pass

heard = []
async def ask(step):
    return await step.begin("ask")
async def thank(step):
    heard.append(step.result)
    return await step.end()

class Turn:
    def __init__(self, text):
        self.activity = type("A", (), {"text": text, "type": "message"})()
        self.turn_state = {}

engine = Dialogs()
engine.add_prompt("ask", Ask())
engine.add_waterfall("name", [ask, thank])
stack = []
async def run():
    await engine.context(Turn("hi"), stack).begin("name")
    assert stack and stack[-1]["dialog"] == "ask"
    json.dumps(stack)
    done = await engine.context(Turn("Sam"), stack).continue_()
    assert done.status == "complete" and heard == ["Sam"] and stack == []
asyncio.run(run())
print("ran without the SDK")
"""


def test_the_conversation_runs_without_the_bot_framework_sdk():
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_THE_SDK],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "ran without the SDK" in done.stdout
