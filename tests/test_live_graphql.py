"""``/graphql`` end to end: a real uvicorn server, real GraphQL clients (``gql`` over HTTP with
``requests`` and over ``graphql-transport-ws`` with ``websockets``), real ID tokens from the
Auth emulator, and the suite's Firestore whose views and commands the app's triggers (in the
functions emulator) keep in step."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from boiler.live import Limits
from boiler.testing import EmulatorSuite, wait_until
from boiler.testing.auth import token_claims
from gql import Client, GraphQLRequest
from gql.client import AsyncClientSession
from gql.transport.exceptions import TransportQueryError
from gql.transport.requests import RequestsHTTPTransport
from gql.transport.websockets import WebsocketsTransport
from graphql import build_schema, print_schema
from meeting_room import MeetingSession
from websockets.asyncio.client import connect as connect_ws
from websockets.exceptions import ConnectionClosed

from .live_server import LiveWorld, Running, live_world, session, start
from .markdown_examples import blocks_run_by
from .meeting_fixtures import create_meeting

pytestmark = pytest.mark.suite
ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 60  # cold Python workers start on their first event, about 0.5 s each
SESSION = """
query Session($uid: ID!, $meetingId: ID!) {
  meetingSession(uid: $uid, meetingId: $meetingId) {
    meetingId title inSession numAttending attending { uid name }
  }
}"""
WATCH = """
subscription Watch($uid: ID!, $meetingId: ID!) {
  meetingSession(uid: $uid, meetingId: $meetingId) { meetingId title attending { uid } }
}"""
ATTEND = """
mutation Attend($uid: ID!, $input: AttendanceRequestInput!, $wait: Float) {
  createAttendanceRequest(uid: $uid, input: $input, wait: $wait) { id status reason }
}"""
STATUS = """
mutation Status($meetingId: ID!, $input: StatusRequestInput!, $wait: Float) {
  createStatusRequest(meetingId: $meetingId, input: $input, wait: $wait) { id status reason }
}"""


class World(LiveWorld):
    """The live tests' world, with GraphQL clients (gql) over HTTP and graphql-transport-ws."""

    def http(self, uid: str | None = None, token: str | None = None) -> Client:
        """A gql client over HTTP, signed in as ``uid`` (or with ``token``; neither: anonymous)."""
        token = token or (self.token(uid) if uid else None)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        transport = RequestsHTTPTransport(
            f"{self.live.http}/graphql", headers=headers, timeout=TIMEOUT
        )
        return Client(transport=transport, execute_timeout=TIMEOUT)

    def execute(self, user: str | None, query: str, /, **variables: Any) -> dict[str, Any]:
        """``query`` as ``user`` (None: anonymous) with ``variables``; its data."""
        with self.http(user) as session:
            result: dict[str, Any] = session.execute(
                GraphQLRequest(query, variable_values=variables)
            )
            return result

    def refused(self, user: str | None, query: str, /, **variables: Any) -> list[dict[str, Any]]:
        """The errors of a query the server refuses (gql raises them)."""
        with pytest.raises(TransportQueryError) as refused:
            self.execute(user, query, **variables)
        assert refused.value.errors, refused.value
        return refused.value.errors

    @contextlib.asynccontextmanager
    async def ws(
        self, uid: str | None = None, url: str | None = None, payload: Any = None
    ) -> AsyncIterator[AsyncClientSession]:
        """A gql session over graphql-transport-ws, signed in as ``uid`` in connection_init."""
        if payload is None and uid is not None:
            payload = {"Authorization": f"Bearer {self.token(uid)}"}
        transport = WebsocketsTransport(
            url=(url or self.live.http).replace("http://", "ws://") + "/graphql",
            init_payload=payload or {},
            subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
            connect_timeout=TIMEOUT,
            ack_timeout=TIMEOUT,
        )
        async with Client(transport=transport, execute_timeout=TIMEOUT) as session:
            yield session


async def next_result(results: AsyncIterator[dict[str, Any]]) -> dict[str, Any]:
    return await asyncio.wait_for(results.__anext__(), TIMEOUT)


async def next_matching(results: AsyncIterator[dict[str, Any]], check: Any) -> dict[str, Any]:
    """The first result ``check`` accepts (earlier versions are skipped), within TIMEOUT."""
    deadline = time.monotonic() + TIMEOUT
    seen = []
    while time.monotonic() < deadline:
        result = await asyncio.wait_for(results.__anext__(), deadline - time.monotonic())
        if check(result):
            return result
        seen.append(result)
    raise AssertionError(f"no matching result in {TIMEOUT} s; received {seen}")


def extensions(errors: list[dict[str, Any]]) -> list[tuple[int, str]]:
    return [(e["extensions"]["status"], e["extensions"]["code"]) for e in errors]


@pytest.fixture(scope="module")
def world(emulator_suite: EmulatorSuite) -> Iterator[World]:
    with live_world(emulator_suite, World) as world:
        yield world


@pytest.fixture(scope="module")
def capped(world: World) -> Iterator[Running]:
    """A second server: at most 2 subscriptions per connection."""
    running = start(world.db, Limits(max_subscriptions=2))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def strict(world: World) -> Iterator[Running]:
    """A server whose clock is 3597 s ahead: the emulator's tokens (valid for an hour)
    expire three seconds after they are issued."""
    running = start(world.db, Limits(clock=lambda: time.time() + 3597))
    yield running
    running.stop()


# ============================================================================ schema
def test_the_served_schema_is_the_committed_sdl(world: World) -> None:
    client = world.http("u1")
    client.fetch_schema_from_transport = True
    with client:
        assert client.schema is not None
        served = print_schema(client.schema)
    committed = (ROOT / "schemas" / "boiler.graphql").read_text()
    assert served == print_schema(build_schema(committed))


# ============================================================================ queries
def test_a_query_reads_a_view_as_the_http_api_shapes_it(world: World) -> None:
    meeting_id = world.meeting()
    data = world.execute("u1", SESSION, uid="u1", meetingId=meeting_id)["meetingSession"]
    assert data["meetingId"] == meeting_id and data["title"] == f"Meeting {meeting_id}"
    assert data["attending"] == [{"uid": "u1", "name": "Ann Lee"}] and data["numAttending"] == 1
    http = requests.get(
        f"{world.live.http.replace('/ws', '')}/healthz", timeout=10
    )  # the same server serves both
    assert http.status_code == 200
    # Allowed but absent: null, as GraphQL clients expect of a nullable field.
    assert world.execute("u1", SESSION, uid="u1", meetingId="m-none") == {"meetingSession": None}
    # Another user's view: 403, decided by the same access evaluator as the HTTP API.
    refused = world.refused("u3", SESSION, uid="u1", meetingId=meeting_id)
    assert extensions(refused) == [(403, "forbidden")] and refused[0]["path"] == ["meetingSession"]


def test_a_page_lists_the_views_the_caller_may_list(world: World) -> None:
    first, second = world.meeting(), world.meeting()
    query = """query Page($uid: ID!, $size: Int, $token: String) {
      meetingSessionPage(uid: $uid, pageSize: $size, pageToken: $token) {
        items { id meetingId } nextPageToken } }"""
    seen: list[str] = []
    token = None
    while True:
        page = world.execute("u2", query, uid="u2", size=1, token=token)["meetingSessionPage"]
        seen += [item["id"] for item in page["items"]]
        assert all(item["id"] == item["meetingId"] for item in page["items"])
        token = page["nextPageToken"]
        if token is None:
            break
    assert {first, second} <= set(seen) and seen == sorted(seen)
    assert extensions(world.refused("u2", query, uid="u1")) == [(403, "forbidden")]
    assert extensions(world.refused("u2", query, uid="u2", size=500)) == [(400, "bad-page-size")]


# ============================================================================ mutations
def test_a_mutation_creates_a_command_the_triggers_apply(world: World) -> None:
    meeting_id = world.meeting()
    attend = {"meetingId": meeting_id, "attendance": True}
    outcome = world.execute("u3", ATTEND, uid="u3", input=attend, wait=20)
    assert outcome["createAttendanceRequest"]["status"] == "applied", outcome
    command_id = outcome["createAttendanceRequest"]["id"]
    stored = world.db.document(f"users/u3/attendanceRequests/{command_id}").get().to_dict()
    assert stored["meetingId"] == meeting_id and stored["status"] == "applied"
    wait_until(
        lambda: (
            "u3"
            in [
                a["uid"]
                for a in world.db.document(session("u1", meeting_id)).get().to_dict()["attending"]
            ]
        ),
        timeout=TIMEOUT,
    )
    # A host asking for a transition the life cycle forbids: created, then rejected.
    back = {"newStatus": "not-started", "requestedBy": "u1"}
    rejected = world.execute("u1", STATUS, meetingId=meeting_id, input=back, wait=20)
    assert rejected["createStatusRequest"]["status"] == "rejected"
    assert "cannot go from 'in-session'" in rejected["createStatusRequest"]["reason"]
    # Without wait: pending at once.
    pending = world.execute("u3", ATTEND, uid="u3", input=attend)
    assert pending["createAttendanceRequest"]["status"] == "pending"


def test_a_mutation_is_validated_as_the_http_api_validates_it(world: World) -> None:
    meeting_id = world.meeting()
    invalid = world.refused("u3", ATTEND, uid="u3", input={"meetingId": "", "attendance": True})
    assert extensions(invalid) == [(422, "invalid-command")]
    assert [p["field"] for p in invalid[0]["extensions"]["errors"]] == ["meetingId"]
    attend = {"meetingId": meeting_id, "attendance": True}
    assert extensions(world.refused("u3", ATTEND, uid="u3", input=attend, wait=31)) == [
        (400, "bad-wait")
    ]
    # u3 may not create a command in u1's collection: 403, nothing is stored.
    assert extensions(world.refused("u3", ATTEND, uid="u1", input=attend)) == [(403, "forbidden")]
    assert extensions(world.refused("u3", ATTEND, uid="a/b", input=attend)) == [(400, "bad-id")]
    # A host-only command from a participant: created (the rules let a participant in) and
    # rejected by apply, or refused by creatable_by: either way never applied.
    status = {"newStatus": "closed", "requestedBy": "u2"}
    assert extensions(world.refused("u3", STATUS, meetingId=meeting_id, input=status)) == [
        (403, "forbidden")
    ]


# ============================================================================ errors
def test_malformed_queries_and_unknown_fields_are_errors(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """Each is a 400 naming the problem, logged as the client's mistake (INFO, not ERROR)."""
    caplog.set_level(logging.INFO, logger="boiler.graphql")

    def post(body: Any, token: str | None = None) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.post(f"{world.live.http}/graphql", json=body, headers=headers, timeout=10)

    syntax = post({"query": "query { meetingSession(uid: "})
    assert syntax.status_code == 400 and "Syntax Error" in syntax.json()["errors"][0]["message"]
    unknown = post({"query": '{ meetingSession(uid: "u1", meetingId: "m") { nope } }'})
    assert unknown.status_code == 400
    assert "Cannot query field 'nope'" in unknown.json()["errors"][0]["message"]
    missing = post({"query": "{ agenda { uid } }"})
    assert "agenda(uid:)" in missing.json()["errors"][0]["message"]
    aliases = " ".join(f'a{n}: agenda(uid: "u1") {{ uid }}' for n in range(11))
    wide = post({"query": f"{{ {aliases} }}"})
    assert wide.status_code == 400
    assert extensions(wide.json()["errors"]) == [(400, "graphql-too-many-fields")]
    huge = post({"query": '{ agenda(uid: "u1") { uid } }' + " " * 17000})
    assert extensions(huge.json()["errors"]) == [(400, "graphql-query-too-large")]
    logged = [r for r in caplog.records if r.name == "boiler.graphql"]
    assert logged and {r.levelname for r in logged} == {"INFO"}, logged
    assert any("Cannot query field 'nope'" in r.getMessage() for r in logged)


def test_no_or_bad_token_is_401(world: World) -> None:
    meeting_id = world.meeting()
    # Anonymous: the view's readable_by needs a user.
    anonymous = world.refused(None, SESSION, uid="u1", meetingId=meeting_id)
    assert extensions(anonymous) == [(401, "unauthenticated")]
    # A bad token: the whole request is refused with HTTP 401, before any resolver.
    response = requests.post(
        f"{world.live.http}/graphql",
        json={"query": SESSION, "variables": {"uid": "u1", "meetingId": meeting_id}},
        headers={"Authorization": "Bearer garbage"},
        timeout=10,
    )
    assert response.status_code == 401
    assert extensions(response.json()["errors"]) == [(401, "unauthenticated")]

    async def over_websocket(payload: dict[str, Any]) -> tuple[int | None, str | None]:
        url = world.live.http.replace("http://", "ws://") + "/graphql"
        async with connect_ws(url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
            await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(socket.recv(), TIMEOUT)
            return socket.close_code, socket.close_reason

    code, reason = asyncio.run(over_websocket({"Authorization": "Bearer garbage"}))
    assert code == 4403 and reason and reason.startswith("401 unauthenticated:")
    code, reason = asyncio.run(over_websocket({"token": "garbage"}))
    assert code == 4403


# ============================================================================ subscriptions
def test_a_subscription_gets_the_view_then_each_change_until_completed(world: World) -> None:
    meeting_id = world.meeting()
    path = session("u1", meeting_id)

    async def scenario() -> None:
        async with world.ws("u1") as ws:
            request = GraphQLRequest(WATCH, variable_values={"uid": "u1", "meetingId": meeting_id})
            async with contextlib.aclosing(ws.subscribe(request)) as results:
                first = await next_result(results)
                assert first["meetingSession"]["meetingId"] == meeting_id
                assert world.live.watchers.subscriber_count(path) == 1
                # A command over the same connection; the real triggers apply it.
                attend = {"meetingId": meeting_id, "attendance": True}
                outcome = await ws.execute(
                    GraphQLRequest(ATTEND, variable_values={"uid": "u1", "input": attend})
                )
                assert outcome["createAttendanceRequest"]["status"] == "pending"
                await asyncio.to_thread(
                    world.db.document(f"users/u3/attendanceRequests/r-{meeting_id}").set,
                    {"meetingId": meeting_id, "attendance": True},
                )
                await next_matching(
                    results,
                    lambda r: "u3" in [a["uid"] for a in r["meetingSession"]["attending"]],
                )
            # `complete` sent by closing the generator: the listener is released.
            await asyncio.to_thread(
                wait_until, lambda: world.live.watchers.subscriber_count(path) == 0, 10
            )
            assert path not in world.live.watchers._watches

    asyncio.run(scenario())


def test_a_forbidden_or_bad_subscription_is_an_error(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refused before any listener opens: the caller and the path decide MeetingSession's."""
    meeting_id = world.meeting()
    watched: list[str] = []
    add = world.live.watchers.add
    monkeypatch.setattr(world.live.watchers, "add", lambda p, s: (watched.append(p), add(p, s)))

    async def refusal(variables: dict[str, str]) -> list[dict[str, Any]]:
        async with world.ws("u3") as ws:
            request = GraphQLRequest(WATCH, variable_values=variables)
            with pytest.raises(TransportQueryError) as refused:
                async with contextlib.aclosing(ws.subscribe(request)) as results:
                    await next_result(results)
            assert refused.value.errors
            return refused.value.errors

    forbidden = asyncio.run(refusal({"uid": "u1", "meetingId": meeting_id}))
    assert extensions(forbidden) == [(403, "forbidden")]
    assert extensions(asyncio.run(refusal({"uid": "u3", "meetingId": ".."}))) == [(400, "bad-id")]
    assert watched == []


def test_graphql_and_ws_subscribers_of_one_document_share_one_listener(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One listener, and one body shaped per version for both protocols' subscribers."""
    meeting_id = world.meeting()
    path = session("u1", meeting_id)
    validated: list[Any] = []
    validate = MeetingSession.model_validate

    def counted(data: Any, *args: Any, **kwargs: Any) -> Any:
        validated.append(data)
        return validate(data, *args, **kwargs)

    monkeypatch.setattr(MeetingSession, "model_validate", counted)

    async def scenario() -> None:
        async with (
            world.ws("u1") as ws,
            connect_ws(world.live.url) as plain,
        ):
            await plain.send(json.dumps({"type": "auth", "token": world.token("u1")}))
            await plain.send(json.dumps({"type": "subscribe", "id": "s", "path": path}))
            snapshot = json.loads(await asyncio.wait_for(plain.recv(), TIMEOUT))
            assert snapshot["type"] == "snapshot" and snapshot["data"]["meetingId"] == meeting_id
            request = GraphQLRequest(WATCH, variable_values={"uid": "u1", "meetingId": meeting_id})
            async with contextlib.aclosing(ws.subscribe(request)) as results:
                await next_result(results)
                assert world.live.watchers.subscriber_count(path) == 2
                assert list(world.live.watchers._watches).count(path) == 1
                await asyncio.to_thread(
                    world.db.document(f"meetings/{meeting_id}").update, {"title": "Both"}
                )
                await next_matching(results, lambda r: r["meetingSession"]["title"] == "Both")
                while snapshot["data"]["title"] != "Both":
                    snapshot = json.loads(await asyncio.wait_for(plain.recv(), TIMEOUT))
                # Each version validated (and encoded) once for the two subscribers, not twice.
                assert len(validated) == world.live.watchers._watches[path].latest.number
            # `complete` released the GraphQL slot; /ws's subscriber still holds the listener.
            await asyncio.to_thread(
                wait_until, lambda: world.live.watchers.subscriber_count(path) == 1, 10
            )
            assert world.live.watchers.listener_count >= 1 and path in world.live.watchers._watches

    asyncio.run(scenario())
    wait_until(lambda: world.live.watchers.subscriber_count(path) == 0, timeout=10)


def test_subscriptions_are_capped_per_connection(world: World, capped: Running) -> None:
    meeting_id = world.meeting()

    async def scenario() -> list[dict[str, Any]]:
        async with world.ws("u1", capped.http) as ws:
            variables = {"uid": "u1", "meetingId": meeting_id}
            request = GraphQLRequest(WATCH, variable_values=variables)
            async with (
                contextlib.aclosing(ws.subscribe(request)) as one,
                contextlib.aclosing(ws.subscribe(request)) as two,
            ):
                await next_result(one)
                await next_result(two)
                with pytest.raises(TransportQueryError) as refused:
                    async with contextlib.aclosing(ws.subscribe(request)) as three:
                        await next_result(three)
                return refused.value.errors or []

    errors = asyncio.run(scenario())
    assert extensions(errors) == [(400, "live-too-many-subscriptions")]


def test_token_expiry_ends_the_subscriptions_with_401(world: World, strict: Running) -> None:
    meeting_id = world.meeting()
    token = world.auth.id_token("u1")  # expires 3 s from now on the strict server's clock
    path = session("u1", meeting_id)

    async def scenario() -> list[dict[str, Any]]:
        payload = {"Authorization": f"Bearer {token}"}
        async with world.ws(url=strict.http, payload=payload) as ws:
            request = GraphQLRequest(WATCH, variable_values={"uid": "u1", "meetingId": meeting_id})
            with pytest.raises(TransportQueryError) as ended:
                async with contextlib.aclosing(ws.subscribe(request)) as results:
                    while True:
                        await next_result(results)
            # The connection's later operations are refused too: a new one is needed.
            with pytest.raises(TransportQueryError) as later:
                await ws.execute(
                    GraphQLRequest(SESSION, variable_values={"uid": "u1", "meetingId": meeting_id})
                )
            assert extensions(later.value.errors or []) == [(401, "live-token-expired")]
            return ended.value.errors or []

    errors = asyncio.run(scenario())
    assert extensions(errors) == [(401, "live-token-expired")]
    assert strict.server.live.limits.clock() >= token_claims(token)["exp"]
    wait_until(lambda: strict.watchers.subscriber_count(path) == 0, timeout=10)


# ============================================================================ docs/live.md
def test_the_docs_examples_run(world: World) -> None:
    """docs/live.md's query, mutation and subscription, on the meeting they name."""
    blocks = {block.text.split()[0]: block.text for block in blocks_run_by(__file__)}
    assert sorted(blocks) == ["mutation", "query", "subscription"]
    create_meeting(world.db, "docs-m1", {"u1": True, "u2": False, "u3": False})
    wait_until(lambda: world.db.document(session("u1", "docs-m1")).get().exists, timeout=TIMEOUT)
    read = world.execute("u1", blocks["query"])["meetingSession"]
    assert read["title"] == "Meeting docs-m1" and read["attending"][0]["uid"] == "u1"

    async def scenario() -> None:
        async with world.ws("u1") as ws:
            subscription = GraphQLRequest(blocks["subscription"])
            async with contextlib.aclosing(ws.subscribe(subscription)) as results:
                first = await next_result(results)
                assert first["meetingSession"]["numAttending"] >= 1
                created = await asyncio.to_thread(world.execute, "u3", blocks["mutation"])
                assert created["createAttendanceRequest"]["status"] == "applied", created
                await next_matching(
                    results, lambda r: {"uid": "u3"} in r["meetingSession"]["attending"]
                )

    asyncio.run(scenario())
