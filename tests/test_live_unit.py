"""The live server's pure parts: the protocol's messages, the back-pressure slot, and the
listener registry's fan-in and back-pressure on the real (standalone) Firestore emulator."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from boiler import compile_app
from boiler.api.caller import Caller
from boiler.api.problems import ApiError
from boiler.api.resources import Resources, ViewDocument
from boiler.api.service import Service, _view_body
from boiler.live.latest import Latest
from boiler.live.protocol import (
    Auth,
    ProtocolError,
    Subscribe,
    Unsubscribe,
    error,
    parse,
    snapshot,
    snapshot_text,
)
from boiler.live.watchers import Version, Watchers
from meeting_room import app as meeting_room

DEADLINE = 10.0


# ============================================================================ protocol
def test_client_messages_parse_into_their_models() -> None:
    assert parse('{"type": "auth", "token": "t"}') == Auth(type="auth", token="t")
    assert parse(b'{"type": "subscribe", "id": "s", "path": "agendas/u1"}') == Subscribe(
        type="subscribe", id="s", path="agendas/u1"
    )
    assert parse('{"type": "unsubscribe", "id": "s"}') == Unsubscribe(type="unsubscribe", id="s")


@pytest.mark.parametrize(
    "text, subscription",
    [
        ('{"type": "subscribe", "id": "s1"}', "s1"),  # no path
        ('{"type": "subscribe", "id": "s1", "path": "a/b", "extra": 1}', "s1"),
        ('{"type": "subscribe", "id": 7, "path": "a/b"}', None),  # the id is no string
        ('{"type": "subscribe", "id": "", "path": "a/b"}', ""),
        ('{"type": "watch", "id": "s1"}', "s1"),
        ('{"id": "s1"}', "s1"),
        ('["subscribe"]', None),
        ('{"type": "auth"}', None),
    ],
)
def test_a_malformed_message_is_a_400_that_names_its_id(
    text: str, subscription: str | None
) -> None:
    with pytest.raises(ProtocolError) as refused:
        parse(text)
    assert not refused.value.fatal and refused.value.id == subscription
    assert refused.value.code == "live-bad-message"


@pytest.mark.parametrize("text", ["not json", b"\xff\xfe", "", "{"])
def test_bytes_that_are_not_json_are_fatal(text: str | bytes) -> None:
    with pytest.raises(ProtocolError) as refused:
        parse(text)
    assert refused.value.fatal and refused.value.code == "live-not-json"


def test_server_messages_have_the_documented_shape() -> None:
    assert snapshot("s1", None) == {"type": "snapshot", "id": "s1", "data": None}
    assert error(None, 401, "sign in", "unauthenticated") == {
        "type": "error",
        "id": None,
        "status": 401,
        "message": "sign in",
        "code": "unauthenticated",
    }


def test_a_snapshot_around_a_body_encoded_once_is_the_same_message() -> None:
    body = {"title": "Kick-off", "attending": [{"uid": "u1"}], "note": 'a "quoted" \u00e9'}
    text = snapshot_text('s"1', json.dumps(body))
    assert json.loads(text) == snapshot('s"1', body)
    assert json.loads(snapshot_text("s2", "null")) == snapshot("s2", None)


def test_the_shared_body_is_the_http_apis_and_a_bad_one_is_named() -> None:
    """``Service.view_json`` (once per version, for every subscriber) is the HTTP API's body;
    ``require_read`` (per subscriber) is its access decision."""
    build = compile_app(meeting_room)
    resource = Resources.of(build).resolve("users/u1/meetingSessions/m1")
    assert isinstance(resource, ViewDocument)
    stored = {
        "meetingId": "m1",
        "title": "Kick-off",
        "address": "1 Main St",
        "latitude": 48.85,
        "longitude": None,
        "inSession": True,
        "attending": [
            {"uid": "u1", "name": "Ada L", "organization": "X", "hearingAidRequested": True}
        ],
        "numAttending": 1,
        "numHearingAidRequested": 1,
    }
    stored = resource.view.model_validate(stored).model_dump(by_alias=True)
    expected = _view_body(resource.view, resource.path, stored)  # GET /v1/{path}'s body
    assert json.loads(Service.view_json(resource, stored)) == expected
    service = Service(client=None)
    service.require_read(Caller("u1", {}), resource, stored)  # u1's own view: no refusal
    for caller, status in ((Caller("u2", {}), 403), (None, 401)):
        with pytest.raises(ApiError) as denied:
            service.require_read(caller, resource, stored)
        assert denied.value.status == status
    assert Service.view_json(resource, None) == "null"
    with pytest.raises(ApiError) as refused:
        Service.view_json(resource, {"title": 3})
    assert refused.value.status == 500 and refused.value.code == "view-shape-mismatch"


# ============================================================================ back-pressure
def test_the_slot_keeps_only_the_newest_value_not_yet_taken() -> None:
    async def scenario() -> None:
        slot = Latest[int]()
        for value in range(5):
            slot.offer(value)
        assert slot.pending() == 4 and slot.replaced == 4
        assert await slot.take() == 4
        assert slot.pending() is None
        waiting = asyncio.create_task(slot.take())
        await asyncio.sleep(0)  # let take() start waiting (no time passes)
        assert not waiting.done()
        slot.offer(9)
        assert await asyncio.wait_for(waiting, DEADLINE) == 9

    asyncio.run(scenario())


# ============================================================================ the registry
async def _until(predicate: Any, what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


def test_one_listener_per_document_released_by_the_last_subscriber(firestore: Any) -> None:
    async def scenario() -> None:
        watchers = Watchers(firestore, asyncio.get_running_loop())
        first, second, other = Latest[Version](), Latest[Version](), Latest[Version]()
        watchers.add("agendas/u1", first)
        watchers.add("agendas/u1", second)
        watchers.add("agendas/u2", other)
        assert watchers.listener_count == 2 and watchers.subscriber_count("agendas/u1") == 2
        initial = await asyncio.wait_for(first.take(), DEADLINE)
        assert initial == Version("agendas/u1", None, 1)  # absent: null data, at once
        late = Latest[Version]()
        watchers.add("agendas/u1", late)  # joins the open listener: gets its latest at once
        assert late.pending() == initial and watchers.listener_count == 2
        for subscriber in (first, second, late):
            watchers.remove("agendas/u1", subscriber)
        assert watchers.listener_count == 1 and watchers.subscriber_count("agendas/u1") == 0
        await watchers.drained()
        await watchers.close()
        assert watchers.listener_count == 0

    asyncio.run(scenario())


def test_a_slow_subscriber_gets_the_latest_version_only(firestore: Any) -> None:
    """A consumer that takes nothing while 20 versions arrive holds one: the 20th."""
    document = firestore.document("agendas/slow")

    async def scenario() -> None:
        watchers = Watchers(firestore, asyncio.get_running_loop())
        slow, fast = Latest[Version](), Latest[Version]()
        watchers.add(document.path, slow)
        watchers.add(document.path, fast)
        seen: list[Any] = []
        for n in range(1, 21):
            await asyncio.to_thread(document.set, {"n": n})
        while not seen or seen[-1] != {"n": 20}:
            try:  # a loaded emulator may hold a listener's changes back for seconds
                seen.append((await asyncio.wait_for(fast.take(), 3 * DEADLINE)).data)
            except TimeoutError:
                raise AssertionError(f"n=20 never came; the fast subscriber saw {seen}") from None
        held = slow.pending()
        assert held is not None and held.data == {"n": 20}
        assert slow.replaced == held.number - 1  # every older version was dropped, none queued
        assert (await slow.take()) is held and slow.pending() is None
        await watchers.close()

    asyncio.run(scenario())
