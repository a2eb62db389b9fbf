"""The Bot Framework Storage contract, checked against each storage backend we run on.

Conversation state (where a child is in the consultation) lives here. If the contract breaks,
children see questions twice, lose answers, or two app instances overwrite each other.
Add a backend by adding a param to `backend` (e.g. "postgresql" with a per-test database).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from botbuilder.core import ConversationState, StoreItem, TurnContext
from botbuilder.core.adapters import TestAdapter
from botbuilder.dialogs import (
    DialogInstance,
    DialogSet,
    DialogState,
    DialogTurnStatus,
    TextPrompt,
    WaterfallDialog,
    WaterfallStepContext,
)
from botbuilder.dialogs.prompts import PromptOptions
from botbuilder.schema import Activity, ActivityTypes, ChannelAccount, ConversationAccount

from bot.state import EtagConflict, SqlStorage
from storage.crypto import Keyring
from storage.db import Database
from storage.repositories import BotStateRepository

KEY = "msteams/conversations/conv-1"
OTHER = "msteams/users/child-1"


class Progress(StoreItem):
    """A StoreItem subclass as a bot would keep one: jsonpickle stores its class path."""

    def __init__(self, step: str = "", answers: dict[str, Any] | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.step = step
        self.answers = answers or {}


class Backend:
    """Opens Database objects on one store; opening again is what an app restart does."""

    def __init__(self, url: str) -> None:
        self.url = url
        # One key for the store's life: an app restart keeps its keys.
        self.keys = Keyring.ephemeral()
        self._opened: list[Database] = []

    async def open(self) -> Database:
        db = Database(self.url, keys=self.keys)
        self._opened.append(db)
        await db.migrate()
        return db

    async def storage(self) -> SqlStorage:
        return SqlStorage(BotStateRepository(await self.open()))

    async def close(self) -> None:
        for db in self._opened:
            await db.dispose()


@pytest.fixture(params=["sqlite"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "sqlite":
        b = Backend(f"sqlite+aiosqlite:///{tmp_path / 'state.db'}")
    else:  # pragma: no cover - a new backend needs its set-up here
        raise NotImplementedError(request.param)
    yield b
    await b.close()


@pytest.fixture
async def storage(backend: Backend) -> SqlStorage:
    return await backend.storage()


class TestStorageContract:
    async def test_reading_missing_keys_gives_nothing(self, storage: SqlStorage) -> None:
        assert await storage.read([KEY, OTHER]) == {}
        assert await storage.read([]) == {}

    async def test_nested_dict_round_trips_with_an_etag(self, storage: SqlStorage) -> None:
        item = {"step": "topics", "answers": {"name": "Sam", "when": ["weekend", "after_school"]}}
        await storage.write({KEY: item})

        found = await storage.read([KEY, OTHER])

        assert list(found) == [KEY]
        got = found[KEY]
        assert got["answers"] == {"name": "Sam", "when": ["weekend", "after_school"]}
        assert got["step"] == "topics"
        assert isinstance(got["e_tag"], str) and got["e_tag"]
        assert got["e_tag"] not in ("*", None)

    async def test_store_item_and_dialog_state_round_trip(self, storage: SqlStorage) -> None:
        dialog_state = DialogState()
        dialog_state.dialog_stack.append(_instance("consultation", {"step": 3}))
        await storage.write(
            {
                KEY: {"DialogState": dialog_state},
                OTHER: Progress(step="when", answers={"name": "Noor"}),
            }
        )

        found = await storage.read([KEY, OTHER])

        restored = found[KEY]["DialogState"]
        assert isinstance(restored, DialogState)
        assert [(d.id, d.state) for d in restored.dialog_stack] == [("consultation", {"step": 3})]
        progress = found[OTHER]
        assert isinstance(progress, Progress)
        assert (progress.step, progress.answers) == ("when", {"name": "Noor"})
        assert progress.e_tag and progress.e_tag != found[KEY]["e_tag"]

    async def test_read_gives_copies_not_live_objects(self, storage: SqlStorage) -> None:
        await storage.write({KEY: {"answers": {"name": "Sam"}}})
        first = (await storage.read([KEY]))[KEY]
        first["answers"]["name"] = "changed but never written"

        again = (await storage.read([KEY]))[KEY]

        assert again["answers"] == {"name": "Sam"}

    async def test_writing_with_a_stale_etag_fails_and_keeps_the_newer_data(
        self, storage: SqlStorage
    ) -> None:
        await storage.write({KEY: {"step": "name"}})
        mine = (await storage.read([KEY]))[KEY]
        theirs = (await storage.read([KEY]))[KEY]
        theirs["step"] = "pronouns"
        await storage.write({KEY: theirs})

        mine["step"] = "language"
        with pytest.raises(EtagConflict):
            await storage.write({KEY: mine})

        assert (await storage.read([KEY]))[KEY]["step"] == "pronouns"

    async def test_stale_etag_on_a_store_item_fails(self, storage: SqlStorage) -> None:
        await storage.write({OTHER: Progress(step="name")})
        stale = (await storage.read([OTHER]))[OTHER]
        await storage.write({OTHER: (await storage.read([OTHER]))[OTHER]})

        stale.step = "when"
        with pytest.raises(EtagConflict):
            await storage.write({OTHER: stale})

    async def test_writing_with_an_etag_to_a_deleted_item_fails(self, storage: SqlStorage) -> None:
        await storage.write({KEY: {"step": "name"}})
        mine = (await storage.read([KEY]))[KEY]
        await storage.delete([KEY])

        with pytest.raises(EtagConflict):
            await storage.write({KEY: mine})

    async def test_star_overwrites_whatever_is_there(self, storage: SqlStorage) -> None:
        await storage.write({KEY: {"step": "name"}})
        await storage.write({OTHER: Progress(step="name")})
        await storage.write({KEY: {"step": "when", "e_tag": "*"}})
        await storage.write({OTHER: Progress(step="topics", e_tag="*")})

        found = await storage.read([KEY, OTHER])

        assert found[KEY]["step"] == "when"
        assert found[KEY]["e_tag"] != "*"
        assert found[OTHER].step == "topics"

    async def test_write_updates_the_callers_etag_so_a_second_save_works(
        self, storage: SqlStorage
    ) -> None:
        await storage.write({KEY: {"step": "name"}})
        state = (await storage.read([KEY]))[KEY]
        item = Progress(step="a")
        await storage.write({OTHER: item})
        read_etag = state["e_tag"]

        state["step"] = "pronouns"
        await storage.write({KEY: state})
        assert state["e_tag"] != read_etag
        state["step"] = "take_part"
        await storage.write({KEY: state})  # same turn, same dict: not a conflict
        item.step = "b"
        await storage.write({OTHER: item})

        found = await storage.read([KEY, OTHER])
        assert found[KEY]["step"] == "take_part"
        assert found[KEY]["e_tag"] == state["e_tag"]
        assert found[OTHER].step == "b"
        assert found[OTHER].e_tag == item.e_tag

    async def test_delete_removes_only_the_given_keys(self, storage: SqlStorage) -> None:
        await storage.write({KEY: {"step": "name"}, OTHER: {"seen": True}})

        await storage.delete([KEY, "msteams/conversations/never-written"])

        found = await storage.read([KEY, OTHER])
        assert list(found) == [OTHER]
        await storage.write({KEY: {"step": "again"}})  # a deleted key can be written afresh
        assert (await storage.read([KEY]))[KEY]["step"] == "again"

    async def test_two_instances_writing_the_same_version_exactly_one_wins(
        self, backend: Backend, storage: SqlStorage
    ) -> None:
        # Two app instances (two engines on one store) both handle a turn of one conversation.
        other_instance = await backend.storage()
        await storage.write({KEY: {"step": "name"}})
        for round_ in range(5):
            a = (await storage.read([KEY]))[KEY]
            b = (await other_instance.read([KEY]))[KEY]
            assert a["e_tag"] == b["e_tag"]
            a["step"], b["step"] = f"a{round_}", f"b{round_}"

            results = await asyncio.gather(
                storage.write({KEY: a}), other_instance.write({KEY: b}), return_exceptions=True
            )

            failures = [r for r in results if isinstance(r, BaseException)]
            assert len(failures) == 1, results
            assert isinstance(failures[0], EtagConflict)
            winner = a if results[0] is None else b
            stored = (await storage.read([KEY]))[KEY]
            assert stored["step"] == winner["step"]
            assert stored["e_tag"] == winner["e_tag"]

    async def test_two_instances_creating_with_star_both_succeed(
        self, backend: Backend, storage: SqlStorage
    ) -> None:
        # "*" means "whatever is there": a race to create the item must not fail a turn.
        other_instance = await backend.storage()
        for round_ in range(5):
            key = f"{KEY}-{round_}"
            results = await asyncio.gather(
                storage.write({key: {"by": "a", "e_tag": "*"}}),
                other_instance.write({key: {"by": "b"}}),
                return_exceptions=True,
            )
            assert results == [None, None]
            assert (await storage.read([key]))[key]["by"] in ("a", "b")


class TestConversationStateOnSqlStorage:
    async def test_a_dialog_resumes_after_a_restart(self, backend: Backend) -> None:
        """A child answers a prompt after the app restarted: the waterfall carries on."""
        heard: list[str] = []

        turn1 = await _turn(await backend.storage(), "hi", heard)
        assert turn1 == ["What name should I use?"]
        assert heard == []

        # A brand-new Database object on the same store: nothing survives but the data.
        turn2 = await _turn(await backend.storage(), "Sam", heard)

        assert heard == ["Sam"]
        assert turn2 == ["Thanks, Sam."]

    async def test_save_changes_twice_in_one_turn(self, backend: Backend) -> None:
        storage = await backend.storage()
        for turn, steps in enumerate([["name"], ["pronouns", "take_part"]]):
            state = ConversationState(storage)
            ctx = TurnContext(TestAdapter(), _activity(f"turn {turn}"))
            prop = state.create_property("progress")
            await state.load(ctx)
            for step in steps:
                await prop.set(ctx, {"step": step})
                # The second save in a turn would raise EtagConflict on a stale cached e_tag.
                await state.save_changes(ctx)

        fresh = ConversationState(await backend.storage())
        ctx2 = TurnContext(TestAdapter(), _activity("again"))
        await fresh.load(ctx2)
        assert await fresh.create_property("progress").get(ctx2) == {"step": "take_part"}


# --- helpers ---------------------------------------------------------------------------------


def _instance(dialog_id: str, state: dict[str, Any]) -> DialogInstance:
    return DialogInstance(id=dialog_id, state=state)


def _activity(text: str) -> Activity:
    return Activity(
        type=ActivityTypes.message,
        id=f"act-{text}",
        text=text,
        channel_id="msteams",
        service_url="https://example.invalid/",
        conversation=ConversationAccount(id="conv-restart"),
        from_property=ChannelAccount(id="child-1"),
        recipient=ChannelAccount(id="bot"),
    )


async def _turn(storage: SqlStorage, text: str, heard: list[str]) -> list[str]:
    """One turn of a two-step waterfall, with state loaded from and saved to `storage`."""
    conversation_state = ConversationState(storage)
    dialogs = DialogSet(conversation_state.create_property("DialogState"))
    dialogs.add(TextPrompt("text"))

    async def ask(step: WaterfallStepContext) -> Any:
        return await step.prompt(
            "text", PromptOptions(prompt=Activity(type="message", text="What name should I use?"))
        )

    async def thank(step: WaterfallStepContext) -> Any:
        heard.append(step.result)
        await step.context.send_activity(f"Thanks, {step.result}.")
        return await step.end_dialog()

    dialogs.add(WaterfallDialog("ask_name", [ask, thank]))
    sent: list[str] = []
    adapter = TestAdapter()
    ctx = TurnContext(adapter, _activity(text))

    async def capture(_ctx: TurnContext, activities: list[Activity], next_: Any) -> Any:
        sent.extend(a.text for a in activities if a.type == ActivityTypes.message)
        return await next_()

    ctx.on_send_activities(capture)
    dc = await dialogs.create_context(ctx)
    result = await dc.continue_dialog()
    if result.status == DialogTurnStatus.Empty:
        await dc.begin_dialog("ask_name")
    await conversation_state.save_changes(ctx)
    return sent
