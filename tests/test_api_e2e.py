"""The HTTP API end to end: the https function ``api`` in firebase-tools' functions emulator,
called with real ID tokens that the Auth emulator issues (``boiler.testing.auth``).

The allow/deny matrix is the rules tests' (tests/access_matrix.py): the same world, actors and
sample documents, the expected decision from boiler's access evaluator, here as HTTP statuses.
The API writes commands with the server's client, so a create the matrix allows is a real
command that the command trigger then applies; the other tests use meetings of their own.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
import requests
from boiler.testing import EmulatorSuite, wait_until
from boiler.testing.auth import AuthEmulator, token_claims
from google.cloud import firestore

from .access_matrix import ACTORS, BUILD, VIEW, WORLD, Case, samples
from .meeting_fixtures import attending, create_meeting

pytestmark = pytest.mark.suite
TIMEOUT = 60  # cold Python workers start on their first event, about 0.5 s each
PROBLEM_JSON = "application/problem+json"
OWNER, OTHER, HOST = "u2", "u3", "u1"


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@dataclass
class Api:
    """The emulated API, the Auth emulator that signs its callers in, and an admin client."""

    base: str
    auth: AuthEmulator
    db: firestore.Client
    log: Path
    session: requests.Session = field(default_factory=requests.Session)
    tokens: dict[str, str] = field(default_factory=dict)

    def token(self, uid: str, claims: Mapping[str, Any] | None = None) -> str:
        key = json.dumps([uid, claims or {}], sort_keys=True)
        if key not in self.tokens:
            self.tokens[key] = self.auth.id_token(uid, claims)
        return self.tokens[key]

    def headers(self, uid: str | None, claims: Mapping[str, Any] | None = None) -> dict[str, str]:
        return {} if uid is None else {"Authorization": f"Bearer {self.token(uid, claims)}"}

    def request(
        self,
        method: str,
        path: str,
        uid: str | None = None,
        claims: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """``path`` below the API's base (``/v1/...``, ``/rpc``); ``headers`` win over uid's."""
        sent = {**self.headers(uid, claims), **(headers or {})}
        return self.session.request(method, self.url(path), headers=sent, timeout=60, **kwargs)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def get(self, path: str, uid: str | None = None, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, uid, **kwargs)

    def post(
        self, path: str, body: Any, uid: str | None = None, **kwargs: Any
    ) -> requests.Response:
        return self.request("POST", path, uid, json=body, **kwargs)

    def rpc(self, payload: Any, uid: str | None = None, **kwargs: Any) -> requests.Response:
        return self.post("/rpc", payload, uid, **kwargs)


def assert_problem(response: requests.Response, status: int, code: str | None = None) -> Any:
    """An RFC 9457 problem with ``status`` (and ``code``); returns its body."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["Content-Type"] == PROBLEM_JSON, response.headers
    body = response.json()
    assert {"type", "title", "status", "detail", "code"} <= body.keys(), body
    assert body["status"] == status and body["title"] and body["detail"], body
    if code is not None:
        assert body["code"] == code, body
    return body


@pytest.fixture(scope="module")
def world(emulator_suite: EmulatorSuite) -> Iterator[Api]:
    """The rules tests' world in the suite's Firestore, once the triggers built every served
    view of it and processed its commands (the views themselves come from the triggers)."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in emulator_suite.env().items():
            patch.setenv(name, value)
        emulator_suite.reset_firestore()
        db = firestore.Client(project=emulator_suite.project_id)
        for path, data in WORLD.items():
            db.document(path).set(data)
        commands = [sample for sample in samples() if sample.kind == "command"]
        for sample in commands:  # the command trigger processes them as it would a client's
            db.document(sample.path).set(sample.stored)
        built = {
            "users/u2/meetingSessions/m1": lambda v: v["title"] == "Kickoff",
            "agendas/u2": lambda v: v["numUpcoming"] == 1,
            "locationBoards/l1": lambda v: v["meetingsTotal"] == 1,
            **{sample.path: lambda v: v.get("status") for sample in commands},
        }
        for path, check in built.items():
            wait_until(
                lambda path=path, check=check: (
                    (v := db.document(path).get().to_dict()) and check(v)
                ),
                timeout=TIMEOUT,
                message=f"{path} built or processed",
            )
        base = f"{emulator_suite.url('functions')}/{emulator_suite.project_id}/us-central1/api"
        auth = AuthEmulator(emulator_suite.auth_host, emulator_suite.project_id)
        yield Api(base, auth, db, emulator_suite.log_path)


# ============================================================================ the matrix
@dataclass(frozen=True)
class ApiCase:
    """One matrix case as an API request: view get/list, command create/get, or a path that
    is not served at all (views without readable_by, domain data, boiler's bookkeeping)."""

    case: Case

    @property
    def id(self) -> str:
        return f"api-{self.case.id}"

    @property
    def served(self) -> bool:
        sample = self.case.sample
        return sample.kind == "command" or (
            sample.kind == "view" and sample.access_read is not None
        )

    def expected(self) -> int:
        case = self.case
        if not self.served:
            return 404
        if case.expected():
            return 202 if case.operation == "create" else 200
        access = (
            case.sample.access_create if case.operation == "create" else case.sample.access_read
        )
        if case.actor.uid is None and not (access is not None and access.public):
            return 401
        return 403


def _api_cases() -> list[ApiCase]:
    cases = []
    for sample in samples():
        if sample.kind == "command":
            operations = ["create", "get"]
        elif sample.kind == "view" and sample.access_read is not None:
            operations = ["get", "list"]
        else:
            operations = ["get", "list", "create"]
        cases += [ApiCase(Case(sample, actor, op)) for actor in ACTORS for op in operations]  # type: ignore[arg-type]
    return cases


API_CASES = _api_cases()


def perform(api: Api, case: Case) -> requests.Response:
    sample, actor = case.sample, case.actor
    collection = sample.path.rsplit("/", 1)[0]
    if case.operation == "get":
        return api.get(f"/v1/{sample.path}", actor.uid, claims=actor.claims)
    if case.operation == "list":
        return api.get(f"/v1/{collection}", actor.uid, claims=actor.claims)
    return api.post(f"/v1/{collection}", sample.payload(actor.uid), actor.uid, claims=actor.claims)


def test_the_api_matrix_covers_every_collection_and_actor() -> None:
    covered = {(c.case.sample.path, c.case.actor.name, c.case.operation) for c in API_CASES}
    assert len(covered) == len(API_CASES)
    assert {c.case.sample.path for c in API_CASES} == {s.path for s in samples()}
    assert {c.case.actor.name for c in API_CASES} == {actor.name for actor in ACTORS}
    # Served: exactly the views clients may read and every command.
    served = {c.case.sample.model for c in API_CASES if c.served}
    readable = {v for v in BUILD.app.views if v.spec().readable_by is not None}
    assert served == readable | {c.command for c in BUILD.commands}
    statuses = [c.expected() for c in API_CASES]
    assert {200, 202, 401, 403, 404} <= set(statuses)  # not a deny-everything matrix
    assert statuses.count(200) + statuses.count(202) >= 8


@pytest.mark.parametrize("api_case", API_CASES, ids=[c.id for c in API_CASES])
def test_api_matrix(world: Api, api_case: ApiCase) -> None:
    case, expected = api_case.case, api_case.expected()
    response = perform(world, case)
    what = f"{case.actor.name} {case.operation} {case.sample.path}"
    if expected >= 400:
        body = assert_problem(response, expected)
        assert body["instance"].startswith("/v1/"), body
        if expected == 401:
            assert response.headers["WWW-Authenticate"].startswith("Bearer"), what
        return
    assert response.status_code == expected, f"{what}: HTTP {response.status_code} {response.text}"
    body = response.json()
    _check_allowed(world, case, response, body)


def _check_allowed(api: Api, case: Case, response: requests.Response, body: Any) -> None:
    sample = case.sample
    if case.operation == "create":  # a real command, stored as sent
        assert body == {"id": body["id"], "status": "pending"}
        collection = sample.path.rsplit("/", 1)[0]
        stored = api.db.document(f"{collection}/{body['id']}").get().to_dict() or {}
        assert {k: stored.get(k) for k in sample.payload(case.actor.uid)} == sample.payload(
            case.actor.uid
        )
        return
    if case.operation == "list":  # other tests may have added documents: the sample's is there
        assert sample.path.rsplit("/", 1)[1] in [item["id"] for item in body["items"]], body
        return
    if sample.kind == "command":
        assert body["id"] == sample.path.rsplit("/", 1)[1]
        assert {k: body[k] for k in sample.stored} == sample.stored
        assert body["status"] in ("applied", "rejected")
        return
    assert "ETag" in response.headers and response.headers["Cache-Control"].startswith("private")
    assert body == sample.model.model_validate(body).model_dump(mode="json", by_alias=True)
    key = sample.model.spec().template.id_wildcard  # the view of this document, as built
    assert body[str(key)] == sample.path.rsplit("/", 1)[1], body


# ============================================================================ statuses
SESSION = "/v1/users/u2/meetingSessions/m1"


def test_missing_garbage_or_foreign_tokens_are_401(world: Api) -> None:
    """(An expired token cannot be shown here: against the Auth emulator firebase-admin skips
    the signature and expiry checks, and the emulator only issues fresh tokens.)"""
    for headers in (
        {},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": "Basic dTI6c2VjcmV0"},
        {"Authorization": "Bearer "},
    ):
        response = world.get(SESSION, headers=headers)
        body = assert_problem(response, 401, "unauthenticated")
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="boiler"', body
    # A real token for u2 from the Auth emulator, but for another project: its audience.
    foreign = world.auth.id_token(OWNER, project_id="demo-elsewhere")
    assert token_claims(foreign)["aud"] == "demo-elsewhere"
    assert token_claims(foreign)["sub"] == OWNER
    response = world.get(SESSION, headers={"Authorization": f"Bearer {foreign}"})
    assert "audience" in assert_problem(response, 401, "unauthenticated")["detail"]
    # The same user's own token works: the refusals were about the token, not the user.
    assert world.get(SESSION, OWNER).status_code == 200


def test_other_users_are_403_and_write_nothing(world: Api) -> None:
    assert_problem(world.get(SESSION, OTHER), 403, "forbidden")
    before = {d.id for d in world.db.collection("users/u1/attendanceRequests").stream()}
    request = {"meetingId": "m1", "attendance": True}
    assert_problem(world.post("/v1/users/u1/attendanceRequests", request, OWNER), 403)
    after = {d.id for d in world.db.collection("users/u1/attendanceRequests").stream()}
    assert after == before


def test_absent_views_and_unknown_routes_are_404(world: Api) -> None:
    body = assert_problem(world.get("/v1/users/u2/meetingSessions/no-such-meeting", OWNER), 404)
    assert body["code"] == "not-found" and "no MeetingSession" in body["detail"]
    assert_problem(world.get("/v1/users/u2/attendanceRequests/no-such-request", OWNER), 404)
    assert_problem(world.get("/v1/nothing/here", OWNER), 404, "not-found")
    assert_problem(world.get("/elsewhere", OWNER), 404, "no-route")


def test_invalid_commands_are_422_naming_the_fields_and_write_nothing(world: Api) -> None:
    requests_of_u2 = world.db.collection("users/u2/attendanceRequests")
    before = {d.id for d in requests_of_u2.stream()}
    path = "/v1/users/u2/attendanceRequests"
    body = assert_problem(
        world.post(path, {"meetingId": 7, "attendance": "yes", "colour": "red"}, OWNER),
        422,
        "invalid-command",
    )
    assert {e["field"] for e in body["errors"]} == {"meetingId", "attendance", "colour"}
    assert all(e["message"] and e["type"] for e in body["errors"])
    missing = assert_problem(world.post(path, {}, OWNER), 422)["errors"]
    assert {e["field"] for e in missing} == {"meetingId", "attendance"}
    forged = {"meetingId": "m1", "attendance": True, "status": "applied"}
    assert [e["field"] for e in assert_problem(world.post(path, forged, OWNER), 422)["errors"]] == [
        "status"
    ]
    assert_problem(world.post(path, [1, 2], OWNER), 422, "invalid-command")
    assert {d.id for d in requests_of_u2.stream()} == before


def test_etag_revalidation_is_304_until_the_view_changes(world: Api) -> None:
    meeting_id = new_id("etag")  # no such meeting: no trigger rewrites this view
    path = f"users/u2/meetingSessions/{meeting_id}"
    world.db.document(path).set({**VIEW, "meetingId": meeting_id})
    first = world.get(f"/v1/{path}", OWNER)
    assert first.status_code == 200 and first.json()["meetingId"] == meeting_id
    etag = first.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"')
    for tag in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        cached = world.get(f"/v1/{path}", OWNER, headers={"If-None-Match": tag})
        assert cached.status_code == 304 and cached.content == b"", tag
        assert cached.headers["ETag"] == etag
    stale = world.get(f"/v1/{path}", OWNER, headers={"If-None-Match": '"other"'})
    assert stale.status_code == 200 and stale.headers["ETag"] == etag
    world.db.document(path).update({"title": "Renamed"})
    changed = world.get(f"/v1/{path}", OWNER, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.json()["title"] == "Renamed"
    assert changed.headers["ETag"] != etag
    again = world.get(f"/v1/{path}", OWNER, headers={"If-None-Match": changed.headers["ETag"]})
    assert again.status_code == 304
    # The ETag is no way around access: another user's revalidation is refused.
    assert_problem(world.get(f"/v1/{path}", OTHER, headers={"If-None-Match": etag}), 403)


def test_lists_page_in_id_order(world: Api) -> None:
    uid = new_id("pager")
    ids = ["a", "b", "c"]
    for meeting_id in ids:
        world.db.document(f"users/{uid}/meetingSessions/{meeting_id}").set(
            {**VIEW, "meetingId": meeting_id}
        )
    path = f"/v1/users/{uid}/meetingSessions"
    first = world.get(path, uid, params={"pageSize": 2}).json()
    assert [item["id"] for item in first["items"]] == ["a", "b"] and first["nextPageToken"]
    rest = world.get(path, uid, params={"pageSize": 2, "pageToken": first["nextPageToken"]})
    assert [item["id"] for item in rest.json()["items"]] == ["c"]
    assert rest.json()["nextPageToken"] is None
    assert rest.json()["items"][0]["meetingId"] == "c"


def test_wrong_methods_are_405_with_allow(world: Api) -> None:
    for method, path, allow in (
        ("DELETE", SESSION, "GET"),
        ("POST", SESSION, "GET"),
        ("PUT", "/v1/users/u2/meetingSessions", "GET"),
        ("GET", "/v1/users/u2/attendanceRequests", "POST"),
        ("PATCH", "/v1/users/u2/attendanceRequests/r0", "GET"),
        ("GET", "/rpc", "POST"),
        ("POST", "/openapi.json", "GET"),
    ):
        response = world.request(method, path, OWNER, json={})
        assert_problem(response, 405, "method-not-allowed")
        assert response.headers["Allow"] == f"{allow}, OPTIONS", (method, path)


def test_bodies_over_64_kib_are_413_and_write_nothing(world: Api) -> None:
    collection = world.db.collection("users/u2/attendanceRequests")
    before = {d.id for d in collection.stream()}
    huge = {"meetingId": "m1", "attendance": True, "padding": "x" * (64 * 1024)}
    response = world.post("/v1/users/u2/attendanceRequests", huge, OWNER)
    assert_problem(response, 413, "body-too-large")
    call = {"jsonrpc": "2.0", "id": 1, "method": "view.get", "params": {"pad": "x" * 70_000}}
    assert_problem(world.rpc(call, OWNER), 413, "body-too-large")
    assert {d.id for d in collection.stream()} == before


def test_bodies_that_are_not_json_are_415_or_400(world: Api) -> None:
    path = "/v1/users/u2/attendanceRequests"
    text = {"Content-Type": "text/plain"}
    body = '{"meetingId": "m1", "attendance": true}'
    assert_problem(world.request("POST", path, OWNER, headers=text, data=body), 415, "not-json")
    form = world.request("POST", path, OWNER, data={"meetingId": "m1"})  # form-encoded
    assert_problem(form, 415, "not-json")
    json_type = {"Content-Type": "application/json"}
    broken = world.request("POST", path, OWNER, headers=json_type, data='{"meetingId": ')
    assert_problem(broken, 400, "bad-json")


@pytest.mark.parametrize(
    ("method", "path", "params", "code"),
    [
        ("GET", "/v1/users/u2/meetingSessions", {"pageSize": "0"}, "bad-page-size"),
        ("GET", "/v1/users/u2/meetingSessions", {"pageSize": "101"}, "bad-page-size"),
        ("GET", "/v1/users/u2/meetingSessions", {"pageSize": "2.5"}, "bad-page-size"),
        ("GET", "/v1/users/u2/meetingSessions", {"pageSize": "many"}, "bad-page-size"),
        ("GET", "/v1/users/u2/meetingSessions", {"pageToken": "%%%"}, "bad-page-token"),
        ("GET", "/v1/users/u2/meetingSessions", {"pageToken": "X19hX18"}, "bad-page-token"),
        ("POST", "/v1/users/u2/attendanceRequests", {"wait": "31"}, "bad-wait"),
        ("POST", "/v1/users/u2/attendanceRequests", {"wait": "-1"}, "bad-wait"),
        ("POST", "/v1/users/u2/attendanceRequests", {"wait": "soon"}, "bad-wait"),
        ("POST", "/v1/users/u2/attendanceRequests", {"wait": "nan"}, "bad-wait"),
        ("GET", "/v1/users/u2/meetingSessions/__m1__", {}, "bad-id"),
        ("GET", "/v1/users/__u2__/meetingSessions", {}, "bad-id"),
        ("POST", "/v1/users/__u2__/attendanceRequests", {}, "bad-id"),
    ],
)
def test_bad_parameters_are_400(
    world: Api, method: str, path: str, params: dict[str, str], code: str
) -> None:
    collection = world.db.collection("users/u2/attendanceRequests")
    before = {d.id for d in collection.stream()} if method == "POST" else set()
    body = {"meetingId": "m1", "attendance": True} if method == "POST" else None
    response = world.request(method, path, OWNER, params=params, json=body)
    assert_problem(response, 400, code)
    if method == "POST":
        assert {d.id for d in collection.stream()} == before


# ============================================================================ JSON-RPC
def call(method: str, params: Any, call_id: Any = 1) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": call_id, "method": method, "params": params}


def notification(method: str, params: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": method, "params": params}


def rpc_error(response: requests.Response, code: int, call_id: Any = 1) -> dict[str, Any]:
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
    answer = response.json()
    assert answer["jsonrpc"] == "2.0" and answer["id"] == call_id and "result" not in answer
    assert answer["error"]["code"] == code and answer["error"]["message"], answer
    error: dict[str, Any] = answer["error"]
    return error


def result(response: requests.Response, call_id: Any = 1) -> Any:
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer == {"jsonrpc": "2.0", "id": call_id, "result": answer.get("result")}, answer
    return answer["result"]


@pytest.fixture
def meeting(world: Api) -> str:
    """A fresh in-session meeting: u1 hosts and attends, u2 takes part but does not attend;
    returned once the triggers built u2's views of it (so its events are behind us)."""
    meeting_id = new_id("m")
    create_meeting(world.db, meeting_id, {HOST: True, OWNER: False})
    wait_until(
        lambda: attending(world.db, OWNER, meeting_id) == [HOST],
        timeout=TIMEOUT,
        message=f"u2's view of {meeting_id}",
    )
    wait_until(  # the last hop (meeting, card, agenda): the meeting's events are done
        lambda: meeting_id in agenda_ids(world.db, OWNER), timeout=TIMEOUT, message="agenda"
    )
    return meeting_id


def agenda_ids(db: firestore.Client, uid: str) -> list[str]:
    agenda = db.document(f"agendas/{uid}").get().to_dict() or {"meetings": []}
    return [entry["meetingId"] for entry in agenda["meetings"]]


def test_rpc_reads_views_and_creates_and_reads_commands(world: Api, meeting: str) -> None:
    view = result(world.rpc(call("view.get", {"path": SESSION[4:]}, "a"), OWNER), "a")
    assert view == world.get(SESSION, OWNER).json()
    page = result(world.rpc(call("view.list", {"path": "users/u2/meetingSessions"}), OWNER))
    assert meeting in [item["id"] for item in page["items"]] and "m1" in [
        item["id"] for item in page["items"]
    ]
    one = result(
        world.rpc(call("view.list", {"path": "users/u2/meetingSessions", "pageSize": 1}), OWNER)
    )
    assert len(one["items"]) == 1 and one["nextPageToken"]
    data = {"meetingId": meeting, "attendance": True}
    params = {"path": "users/u2/attendanceRequests", "data": data, "wait": 10}
    created = result(world.rpc(call("command.create", params, 7), OWNER), 7)
    assert created == {"id": created["id"], "status": "applied", "reason": None}
    path = f"users/u2/attendanceRequests/{created['id']}"
    got = result(world.rpc(call("command.get", {"path": path}), OWNER))
    assert (got["id"], got["meetingId"], got["attendance"], got["status"]) == (
        created["id"],
        meeting,
        True,
        "applied",
    )
    assert got["processedAt"] and got["supersededBy"] is None
    assert world.db.document(f"meetings/{meeting}/tickets/u2").get().get("attendance") is True


def test_rpc_errors_use_the_standard_codes_with_the_http_status(world: Api) -> None:
    json_type = {"Content-Type": "application/json"}
    broken = world.request("POST", "/rpc", OWNER, headers=json_type, data='{"jsonrpc": "2.0", ')
    assert rpc_error(broken, -32700, None)
    assert rpc_error(
        world.rpc({"jsonrpc": "1.0", "id": 1, "method": "view.get"}, OWNER), -32600, None
    )
    assert rpc_error(world.rpc({"jsonrpc": "2.0", "id": 1, "method": 5}, OWNER), -32600)
    assert rpc_error(world.rpc(call("view.delete", {"path": SESSION[4:]}), OWNER), -32601)
    assert rpc_error(world.rpc(call("view.get", ["users/u2"]), OWNER), -32602)
    wrong = rpc_error(
        world.rpc(call("view.get", {"path": "users/u2/attendanceRequests"}), OWNER), -32602
    )
    assert wrong["data"]["status"] == 400
    invalid = {"path": "users/u2/attendanceRequests", "data": {"meetingId": "m1"}}
    error = rpc_error(world.rpc(call("command.create", invalid), OWNER), -32602)
    assert error["data"]["status"] == 422
    assert [e["field"] for e in error["data"]["problem"]["errors"]] == ["attendance"]
    for uid, path, status in (
        (None, SESSION[4:], 401),
        (OTHER, SESSION[4:], 403),
        (OWNER, "users/u2/meetingSessions/no-such-meeting", 404),
    ):
        refused = rpc_error(world.rpc(call("view.get", {"path": path}), uid), -32000)
        assert refused["data"]["status"] == status
        assert refused["data"]["problem"]["status"] == status
    garbage = {"Authorization": "Bearer not-a-token"}
    assert_problem(world.rpc(call("view.get", {"path": SESSION[4:]}), headers=garbage), 401)


def test_rpc_batches_answer_calls_not_notifications(world: Api, meeting: str) -> None:
    batch = [
        call("view.get", {"path": SESSION[4:]}, 1),
        call("view.get", {"path": "users/u1/meetingSessions/m1"}, 2),  # u1's: forbidden
        notification("view.get", {"path": SESSION[4:]}),
        call("view.burn", {}, 3),
        call("command.create", {"path": "users/u2/attendanceRequests", "data": {}}, 4),
        7,
        notification("no.such.method", {}),
    ]
    response = world.rpc(batch, OWNER)
    assert response.status_code == 200
    answers = response.json()
    assert isinstance(answers, list) and len(answers) == 5
    by_id = {answer["id"]: answer for answer in answers}
    assert by_id[1]["result"]["meetingId"] == "m1"
    assert (by_id[2]["error"]["code"], by_id[2]["error"]["data"]["status"]) == (-32000, 403)
    assert by_id[3]["error"]["code"] == -32601
    assert (by_id[4]["error"]["code"], by_id[4]["error"]["data"]["status"]) == (-32602, 422)
    assert by_id[None]["error"]["code"] == -32600  # the 7: not a call
    # Only notifications: nothing to answer, though they run (the command is created).
    data = {"meetingId": meeting, "attendance": True}
    quiet = [
        notification("command.create", {"path": "users/u2/attendanceRequests", "data": data}),
        notification("view.get", {"path": SESSION[4:]}),
    ]
    silent = world.rpc(quiet, OWNER)
    assert silent.status_code == 204 and silent.content == b""
    created = world.db.collection("users/u2/attendanceRequests").where(
        filter=firestore.FieldFilter("meetingId", "==", meeting)
    )
    assert [d.to_dict()["attendance"] for d in created.stream()] == [True]
    assert rpc_error(world.rpc([], OWNER), -32600, None)


# ============================================================================ commands, waited for
_COMMAND_OUTCOME = re.compile(r'"message": "boiler\.command_\w+"')


def command_outcomes(log: Path, start: int, document: str) -> list[dict[str, Any]]:
    """The outcome lines the command functions logged for ``document`` after byte ``start``."""
    with open(log, "rb") as file:
        file.seek(start)
        lines = file.read().decode(errors="replace").splitlines()
    outcomes = [
        json.loads(line[line.index("{") :])
        for line in lines
        if _COMMAND_OUTCOME.search(line) and line.rstrip().endswith("}")
    ]
    return [outcome for outcome in outcomes if outcome["document"] == document]


def test_a_command_waited_for_is_applied_exactly_once(world: Api, meeting: str) -> None:
    start = world.log.stat().st_size
    request = {"meetingId": meeting, "attendance": True}
    response = world.post("/v1/users/u2/attendanceRequests", request, OWNER, params={"wait": 10})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body == {"id": body["id"], "status": "applied", "reason": None}
    path = f"users/u2/attendanceRequests/{body['id']}"
    assert world.db.document(f"meetings/{meeting}/tickets/u2").get().get("attendance") is True
    # The ticket's change reaches the views after the command's commit, and so after its log.
    for uid in (HOST, OWNER):
        wait_until(
            lambda uid=uid: attending(world.db, uid, meeting) == [HOST, OWNER], timeout=TIMEOUT
        )
    logged = wait_until(lambda: command_outcomes(world.log, start, path), timeout=TIMEOUT)
    assert [(o["function"], o["status"]) for o in logged] == [
        ("apply_attendance_request", "applied")
    ]
    assert logged[0]["writes"] == 1
    # Its Location, resolved as a client would, names the command with its outcome.
    location = urljoin(response.url, response.headers["Location"])
    assert location == world.url(f"/v1/{path}")
    stored = world.session.get(location, headers=world.headers(OWNER), timeout=30)
    assert stored.status_code == 200 and stored.json()["status"] == "applied"


def test_a_command_the_app_rejects_returns_the_reason(world: Api, meeting: str) -> None:
    start = world.log.stat().st_size
    request = {"newStatus": "in-session", "requestedBy": HOST}  # the host passes the access check
    collection = f"/v1/meetings/{meeting}/statusRequests"
    response = world.post(collection, request, HOST, params={"wait": 10})
    assert response.status_code == 200, response.text
    body = response.json()
    reason = f"meeting {meeting} is already 'in-session'"
    assert body == {"id": body["id"], "status": "rejected", "reason": reason}
    path = f"meetings/{meeting}/statusRequests/{body['id']}"
    logged = wait_until(lambda: command_outcomes(world.log, start, path), timeout=TIMEOUT)
    assert [(o["status"], o["reason"], o["writes"]) for o in logged] == [("rejected", reason, 0)]
    assert world.db.document(f"meetings/{meeting}").get().get("status") == "in-session"
    stored = world.get(f"/v1/{path}", HOST).json()
    assert (stored["status"], stored["reason"], stored["newStatus"]) == (
        "rejected",
        reason,
        "in-session",
    )


def test_without_wait_a_command_is_202_and_its_location_shows_the_outcome(
    world: Api, meeting: str
) -> None:
    request = {"meetingId": meeting, "attendance": True}
    response = world.post("/v1/users/u2/attendanceRequests", request, OWNER)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body == {"id": body["id"], "status": "pending"}
    location = urljoin(response.url, response.headers["Location"])
    assert location == world.url(f"/v1/users/u2/attendanceRequests/{body['id']}")

    def outcome() -> Any:
        answer = world.session.get(location, headers=world.headers(OWNER), timeout=30)
        assert answer.status_code == 200, answer.text
        return answer.json()["status"] != "pending" and answer.json()

    processed = wait_until(outcome, timeout=TIMEOUT, message="the command's outcome")
    assert (processed["status"], processed["reason"]) == ("applied", None)
    assert processed["meetingId"] == meeting and processed["processedAt"]
    assert world.db.document(f"meetings/{meeting}/tickets/u2").get().get("attendance") is True
    # The outcome is its creator's: another participant may not read it.
    assert_problem(world.session.get(location, headers=world.headers(HOST), timeout=30), 403)
