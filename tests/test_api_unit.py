"""The HTTP API in-process: ``HttpApi.handle`` on plain requests, reading and writing the
standalone Firestore emulator (no functions emulator, so no trigger runs: views are written
here as the triggers would, and commands stay pending).

ID tokens are the unsigned ones the emulators accept (``FIREBASE_AUTH_EMULATOR_HOST`` set makes
firebase-admin skip the signature, never the project, issuer or expiry checks).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import importlib.util
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import schemathesis
from boiler.api import docs
from boiler.api.http import MAX_BODY_BYTES, HttpApi, HttpRequest, HttpResponse
from boiler.api.jsonrpc import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    MAX_BATCH,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    SERVER_ERROR,
)
from boiler.api.openapi import openapi_document, render
from boiler.api.problems import PROBLEM_JSON, PROBLEMS, ApiError
from boiler.api.resources import Resources
from boiler.api.service import Service, validate_command
from boiler.compiler import compile_app
from boiler.testing.rest import unsigned_token
from google.cloud import firestore as firestore_module
from meeting_room import (
    Agenda,
    AttendanceRequest,
    LocationBoard,
    MeetingCard,
    MeetingSession,
    StatusRequest,
    app,
)

from .meeting_fixtures import create_meeting

ROOT = Path(__file__).resolve().parent.parent
BUILD = compile_app(app)
PROJECT = "demo-test"  # the standalone emulator's project (tests/conftest.py)
SESSION = "/v1/users/u1/meetingSessions/m1"


def session_view(meeting_id: str, title: str = "Kickoff") -> dict[str, Any]:
    """A MeetingSession as its trigger stores it."""
    return MeetingSession(
        meeting_id=meeting_id,
        title=title,
        address="1 Main St",
        latitude=52.5,
        longitude=13.4,
        in_session=True,
        attending=[],
        num_attending=0,
        num_hearing_aid_requested=0,
    ).to_firestore()


@dataclass
class Api:
    """``HttpApi`` on an empty database holding the meeting-room world below."""

    http: HttpApi
    db: firestore_module.Client

    def __call__(
        self,
        method: str,
        path: str,
        *,
        uid: str | None = None,
        body: Any = None,
        raw: bytes | None = None,
        query: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> HttpResponse:
        sent = {"content-type": "application/json"} if raw is not None or body is not None else {}
        if uid is not None:
            sent["authorization"] = f"Bearer {unsigned_token(uid, PROJECT)}"
        sent.update({name.lower(): value for name, value in (headers or {}).items()})
        data = raw if raw is not None else b"" if body is None else json.dumps(body).encode()
        request = HttpRequest(method, path, dict(query or {}), sent, data)
        return self.http.handle(request)

    def rpc(self, payload: Any, uid: str | None = "u1") -> Any:
        response = self("POST", "/rpc", uid=uid, body=payload)
        assert response.status in (200, 204), response.body
        return response.decoded()

    def commands(self, collection: str) -> list[dict[str, Any]]:
        return [snapshot.to_dict() or {} for snapshot in self.db.collection(collection).stream()]


@pytest.fixture
def api(firestore: firestore_module.Client, monkeypatch: pytest.MonkeyPatch) -> Api:
    # Only the variable matters: firebase-admin then accepts unsigned tokens (no server needed).
    monkeypatch.setenv("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099")
    create_meeting(firestore, "m1", {"u1": True, "u2": False})
    firestore.document("users/u1/meetingSessions/m1").set(session_view("m1"))
    firestore.document("users/u2/meetingSessions/m1").set(session_view("m1"))
    firestore.document("agendas/u1").set(
        Agenda(uid="u1", meetings=[], num_upcoming=0).to_firestore()
    )
    board = LocationBoard(
        location_id="l1",
        address="1 Main St",
        meetings_total=1,
        meetings_in_session=1,
        attending_in_session=1,
        next=[],
    )
    firestore.document("locationBoards/l1").set(board.to_firestore())
    return Api(HttpApi(BUILD, Service(firestore)), firestore)


def assert_problem(response: HttpResponse, status: int, code: str, instance: str) -> dict[str, Any]:
    """An RFC 9457 problem: its media type, members, and a declared code for the status."""
    assert response.status == status, response.body
    assert response.headers["Content-Type"] == PROBLEM_JSON
    problem = response.decoded()
    assert {"type", "title", "status", "detail", "code", "instance"} <= problem.keys()
    assert problem["type"] == "about:blank"
    assert problem["title"] == HTTPStatus(status).phrase
    assert (problem["status"], problem["code"], problem["instance"]) == (status, code, instance)
    assert PROBLEMS[code][0] == status
    assert problem["detail"]
    return dict(problem)


# -- ETags -------------------------------------------------------------------------------
def test_a_view_carries_a_strong_etag_of_its_body(api: Api) -> None:
    response = api("GET", SESSION, uid="u1")
    assert response.status == 200
    assert response.decoded()["meetingId"] == "m1"
    etag = response.headers["ETag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
    assert etag == '"' + hashlib.sha256(response.body).hexdigest()[:32] + '"'
    assert response.headers["Cache-Control"] == "private, no-cache"
    assert response.headers["Vary"] == "Authorization"


@pytest.mark.parametrize(
    "if_none_match",
    ["{etag}", "W/{etag}", '"other", {etag}', '"a",W/{etag} , "b"', "*"],
    ids=["exact", "weak", "list", "weak-in-list", "star"],
)
def test_a_matching_if_none_match_is_304_without_a_body(api: Api, if_none_match: str) -> None:
    etag = api("GET", SESSION, uid="u1").headers["ETag"]
    response = api(
        "GET", SESSION, uid="u1", headers={"If-None-Match": if_none_match.format(etag=etag)}
    )
    assert (response.status, response.body) == (304, b"")
    assert response.headers["ETag"] == etag
    assert "Content-Type" not in response.headers
    assert response.headers["Cache-Control"] == "private, no-cache"


def test_a_stale_etag_gets_the_changed_view(api: Api) -> None:
    first = api("GET", SESSION, uid="u1")
    for stale in ('"0123456789abcdef0123456789abcdef"', "", first.headers["ETag"][1:-1]):
        response = api("GET", SESSION, uid="u1", headers={"If-None-Match": stale})
        assert (response.status, response.body) == (200, first.body), stale
    api.db.document("users/u1/meetingSessions/m1").set(session_view("m1", title="Renamed"))
    changed = api("GET", SESSION, uid="u1", headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status == 200
    assert changed.decoded()["title"] == "Renamed"
    assert changed.headers["ETag"] != first.headers["ETag"]


def test_if_none_match_never_hides_a_refusal_or_an_absence(api: Api) -> None:
    star = {"If-None-Match": "*"}
    assert_problem(api("GET", SESSION, headers=star), 401, "unauthenticated", SESSION)
    assert_problem(api("GET", SESSION, uid="u2", headers=star), 403, "forbidden", SESSION)
    absent = "/v1/users/u1/meetingSessions/m9"
    assert_problem(api("GET", absent, uid="u1", headers=star), 404, "not-found", absent)


# -- problems and statuses ---------------------------------------------------------------------
def test_refusals_are_problem_details(api: Api) -> None:
    problem = assert_problem(api("GET", "/v1/agendas/u1"), 401, "unauthenticated", "/v1/agendas/u1")
    assert "Bearer" in problem["detail"]
    garbage = api("GET", "/v1/agendas/u1", headers={"Authorization": "Bearer not-a-jwt"})
    assert_problem(garbage, 401, "unauthenticated", "/v1/agendas/u1")
    assert garbage.headers["WWW-Authenticate"] == 'Bearer realm="boiler"'
    basic = api("GET", "/v1/agendas/u1", headers={"Authorization": "Basic dTE6cHc="})
    assert_problem(basic, 401, "unauthenticated", "/v1/agendas/u1")
    foreign = f"Bearer {unsigned_token('u1', 'demo-elsewhere')}"  # another project's token
    assert_problem(
        api("GET", "/v1/agendas/u1", headers={"Authorization": foreign}),
        401,
        "unauthenticated",
        "/v1/agendas/u1",
    )
    assert_problem(api("GET", "/v1/agendas/u1", uid="u2"), 403, "forbidden", "/v1/agendas/u1")
    assert_problem(api("GET", "/v1/agendas/u3", uid="u3"), 404, "not-found", "/v1/agendas/u3")
    assert_problem(api("GET", "/v2/agendas/u1", uid="u1"), 404, "no-route", "/v2/agendas/u1")
    # Internal views (no readable_by) and domain data are not resources at all.
    for unserved in ("/v1/meetingCards/m1", "/v1/meetings/m1", "/v1/users/u1"):
        assert_problem(api("GET", unserved, uid="u1"), 404, "not-found", unserved)


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("POST", SESSION, "GET"),
        ("DELETE", "/v1/agendas/u1", "GET"),
        ("PUT", "/v1/locationBoards", "GET"),
        ("GET", "/v1/users/u1/attendanceRequests", "POST"),
        ("PATCH", "/v1/users/u1/attendanceRequests/r1", "GET"),
        ("GET", "/rpc", "POST"),
        ("POST", "/openapi.json", "GET"),
        ("POST", "/docs", "GET"),
    ],
)
def test_other_methods_are_405_naming_the_allowed_ones(
    api: Api, method: str, path: str, allow: str
) -> None:
    response = api(method, path, uid="u1", body={})
    assert_problem(response, 405, "method-not-allowed", path)
    assert response.headers["Allow"] == f"{allow}, OPTIONS"  # OPTIONS: answered for CORS
    assert method in response.decoded()["detail"]


def test_bodies_over_the_limit_are_413_and_write_nothing(api: Api) -> None:
    collection = "/v1/users/u1/attendanceRequests"
    padded = {"meetingId": "m1", "attendance": True, "pad": ""}
    padded["pad"] = "x" * (MAX_BODY_BYTES - len(json.dumps(padded)))
    at_limit = json.dumps(padded).encode()
    assert len(at_limit) == MAX_BODY_BYTES
    # At the limit the body is read (and refused for its unknown field), one byte over it is not.
    assert api("POST", collection, uid="u1", raw=at_limit).status == 422
    assert_problem(
        api("POST", collection, uid="u1", raw=at_limit + b" "), 413, "body-too-large", collection
    )
    assert_problem(
        api("POST", "/rpc", uid="u1", raw=at_limit + b" "), 413, "body-too-large", "/rpc"
    )
    assert api.commands("users/u1/attendanceRequests") == []
    small = HttpApi(BUILD, Service(api.db), max_body_bytes=8)
    request = HttpRequest("POST", "/rpc", {}, {"content-type": "application/json"}, b"[1,2,3,4,5]")
    assert small.handle(request).status == 413


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_bodies_not_sent_as_json_are_415(api: Api, content_type: str) -> None:
    body = json.dumps({"meetingId": "m1", "attendance": True}).encode()
    headers = {"Content-Type": content_type}
    collection = "/v1/users/u1/attendanceRequests"
    response = api("POST", collection, uid="u1", raw=body, headers=headers)
    assert_problem(response, 415, "not-json", collection)
    assert_problem(
        api("POST", "/rpc", uid="u1", raw=body, headers=headers), 415, "not-json", "/rpc"
    )
    assert api.commands("users/u1/attendanceRequests") == []


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "application/vnd.x+json"],
)
def test_json_media_types_are_accepted(api: Api, content_type: str) -> None:
    body = json.dumps({"meetingId": "m1", "attendance": True}).encode()
    response = api(
        "POST",
        "/v1/users/u1/attendanceRequests",
        uid="u1",
        raw=body,
        headers={"Content-Type": content_type},
    )
    assert response.status == 202
    assert response.decoded() == {"id": response.decoded()["id"], "status": "pending"}
    assert response.headers["Location"] == f"attendanceRequests/{response.decoded()['id']}"
    assert api.commands("users/u1/attendanceRequests") == [{"meetingId": "m1", "attendance": True}]


def test_bodies_that_are_not_json_are_400(api: Api) -> None:
    collection = "/v1/users/u1/attendanceRequests"
    for raw in (b"{", b'{"attendance": NaN}', b"\xff\xfe", b'{"a": Infinity}'):
        assert_problem(api("POST", collection, uid="u1", raw=raw), 400, "bad-json", collection)
    assert api.commands("users/u1/attendanceRequests") == []


@pytest.mark.parametrize("page_size", ["abc", "0", "101", "-1", "2.5", "nan", "inf", ""])
def test_a_page_size_outside_1_to_100_is_400(api: Api, page_size: str) -> None:
    path = "/v1/users/u1/meetingSessions"
    response = api("GET", path, uid="u1", query={"pageSize": page_size})
    assert_problem(response, 400, "bad-page-size", path)


def _token(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "page_token", ["!!!", _token("__x__"), _token("a/b"), _token("."), "__4", "_w"]
)
def test_a_page_token_the_api_never_returned_is_400(api: Api, page_token: str) -> None:
    path = "/v1/users/u1/meetingSessions"
    response = api("GET", path, uid="u1", query={"pageToken": page_token})
    assert_problem(response, 400, "bad-page-token", path)


@pytest.mark.parametrize("wait", ["-1", "30.5", "31", "soon", "nan", "-inf"])
def test_a_wait_outside_0_to_30_seconds_is_400_and_writes_nothing(api: Api, wait: str) -> None:
    path = "/v1/users/u1/attendanceRequests"
    body = {"meetingId": "m1", "attendance": True}
    response = api("POST", path, uid="u1", body=body, query={"wait": wait})
    assert_problem(response, 400, "bad-wait", path)
    assert api.commands("users/u1/attendanceRequests") == []


@pytest.mark.parametrize("bad_id", [".", "..", "__x__", "__name__"])
@pytest.mark.parametrize(
    "method,template",
    [
        ("GET", "/v1/users/{id}/meetingSessions/m1"),
        ("GET", "/v1/users/u1/meetingSessions/{id}"),
        ("GET", "/v1/users/{id}/meetingSessions"),
        ("GET", "/v1/locationBoards/{id}"),
        ("POST", "/v1/users/{id}/attendanceRequests"),
        ("GET", "/v1/meetings/m1/statusRequests/{id}"),
    ],
)
def test_ids_firestore_refuses_are_400(api: Api, method: str, template: str, bad_id: str) -> None:
    path = template.format(id=bad_id)
    body = {"meetingId": "m1", "attendance": True} if method == "POST" else None
    problem = assert_problem(api(method, path, uid="u1", body=body), 400, "bad-id", path)
    assert repr(bad_id) in problem["detail"]


# -- pagination ---------------------------------------------------------------------------
def test_pages_list_every_document_once_in_id_order(api: Api) -> None:
    for meeting_id in ("m5", "m3", "m2", "m4"):  # with m1: five, written out of order
        api.db.document(f"users/u1/meetingSessions/{meeting_id}").set(session_view(meeting_id))
    path, pages, token = "/v1/users/u1/meetingSessions", [], None
    for _ in range(5):  # at most as many pages as documents
        query = {"pageSize": "2", **({"pageToken": token} if token else {})}
        response = api("GET", path, uid="u1", query=query)
        assert response.status == 200
        assert response.headers["Cache-Control"] == "private, no-cache"
        page = response.decoded()
        assert set(page) == {"items", "nextPageToken"}
        pages.append([item["id"] for item in page["items"]])
        assert all(item["meetingId"] == item["id"] for item in page["items"])
        token = page["nextPageToken"]
        if token is None:
            break
    assert pages == [["m1", "m2"], ["m3", "m4"], ["m5"]]
    assert token is None
    everything = api("GET", path, uid="u1", query={"pageSize": "100"}).decoded()
    assert [item["id"] for item in everything["items"]] == ["m1", "m2", "m3", "m4", "m5"]
    assert everything["nextPageToken"] is None


def test_a_page_ending_on_the_last_document_says_there_is_no_more(api: Api) -> None:
    api.db.document("users/u1/meetingSessions/m2").set(session_view("m2"))
    page = api("GET", "/v1/users/u1/meetingSessions", uid="u1", query={"pageSize": "2"}).decoded()
    assert ([item["id"] for item in page["items"]], page["nextPageToken"]) == (["m1", "m2"], None)


def test_lists_are_allowed_only_where_every_document_is_readable(api: Api) -> None:
    boards = api("GET", "/v1/locationBoards", uid="u3").decoded()
    assert [item["id"] for item in boards["items"]] == ["l1"]
    assert_problem(api("GET", "/v1/locationBoards"), 401, "unauthenticated", "/v1/locationBoards")
    assert_problem(api("GET", "/v1/agendas", uid="u1"), 403, "forbidden", "/v1/agendas")
    others = "/v1/users/u2/meetingSessions"
    assert_problem(api("GET", others, uid="u1"), 403, "forbidden", others)


# -- JSON-RPC ---------------------------------------------------------------------------------
def call(method: str, params: Any = None, call_id: Any = 1) -> dict[str, Any]:
    payload: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        payload["params"] = params
    if call_id is not ...:
        payload["id"] = call_id
    return payload


def error_of(answer: Any, code: int, call_id: Any = 1) -> dict[str, Any]:
    assert set(answer) == {"jsonrpc", "id", "error"}, answer
    assert (answer["jsonrpc"], answer["id"], answer["error"]["code"]) == ("2.0", call_id, code)
    assert isinstance(answer["error"]["message"], str) and answer["error"]["message"]
    return dict(answer["error"])


def test_rpc_answers_a_call_with_its_result(api: Api) -> None:
    answer = api.rpc(call("view.get", {"path": "agendas/u1"}, "a"))
    assert answer == {
        "jsonrpc": "2.0",
        "id": "a",
        "result": api("GET", "/v1/agendas/u1", uid="u1").decoded(),
    }
    page = api.rpc(call("view.list", {"path": "users/u1/meetingSessions", "pageSize": 1}, 2.5))
    assert (page["id"], [item["id"] for item in page["result"]["items"]]) == (2.5, ["m1"])


def test_rpc_parse_errors_are_answered_with_a_null_id(api: Api) -> None:
    response = api("POST", "/rpc", uid="u1", raw=b'{"jsonrpc": "2.0", "method": ')
    assert (response.status, response.headers["Content-Type"]) == (200, "application/json")
    error_of(response.decoded(), PARSE_ERROR, None)


@pytest.mark.parametrize(
    "payload",
    [
        42,
        "view.get",
        None,
        {"method": "view.get", "id": 1},
        {"jsonrpc": "1.0", "method": "view.get", "id": 1},
        {"jsonrpc": "2.0", "method": "view.get", "id": True},
        {"jsonrpc": "2.0", "method": "view.get", "id": {"a": 1}},
    ],
)
def test_rpc_invalid_requests_are_answered_with_a_null_id(api: Api, payload: Any) -> None:
    error_of(api.rpc(payload), INVALID_REQUEST, None)


def test_rpc_a_method_that_is_not_a_string_is_an_invalid_request(api: Api) -> None:
    error_of(api.rpc({"jsonrpc": "2.0", "method": 5, "id": 7}), INVALID_REQUEST, 7)


def test_rpc_unknown_methods_are_method_not_found(api: Api) -> None:
    error = error_of(api.rpc(call("view.delete", {"path": "agendas/u1"}, 3)), METHOD_NOT_FOUND, 3)
    assert "view.get" in error["message"]


@pytest.mark.parametrize(
    ("method", "params", "status"),
    [
        ("view.get", [], None),
        ("view.get", "agendas/u1", None),
        ("view.get", {}, 400),
        ("view.get", {"path": "users/u1/meetingSessions"}, 400),
        ("view.get", {"path": "agendas/.."}, 400),
        ("view.list", {"path": "users/u1/meetingSessions", "pageSize": "2"}, 400),
        ("view.list", {"path": "users/u1/meetingSessions", "pageSize": True}, 400),
        ("view.list", {"path": "users/u1/meetingSessions", "pageToken": 5}, 400),
        ("command.create", {"path": "users/u1/attendanceRequests", "data": {"x": 1}}, 422),
        ("command.create", {"path": "users/u1/attendanceRequests", "wait": "1"}, 400),
        ("command.get", {"path": "users/u1/attendanceRequests"}, 400),
    ],
)
def test_rpc_invalid_params_carry_the_http_status(
    api: Api, method: str, params: Any, status: int | None
) -> None:
    error = error_of(api.rpc(call(method, params)), INVALID_PARAMS)
    if status is None:
        assert "data" not in error
    else:
        assert error["data"]["status"] == status
        assert error["data"]["problem"]["status"] == status
        assert PROBLEMS[error["data"]["problem"]["code"]][0] == status
    assert api.commands("users/u1/attendanceRequests") == []


def test_rpc_refusals_are_server_errors_with_the_http_status(api: Api) -> None:
    for uid, status, code in ((None, 401, "unauthenticated"), ("u2", 403, "forbidden")):
        error = error_of(api.rpc(call("view.get", {"path": "agendas/u1"}), uid=uid), SERVER_ERROR)
        assert (error["data"]["status"], error["data"]["problem"]["code"]) == (status, code)
    absent = error_of(api.rpc(call("view.get", {"path": "agendas/u3"}), uid="u3"), SERVER_ERROR)
    assert absent["data"]["status"] == 404


def test_rpc_notifications_are_never_answered(api: Api) -> None:
    for notification in (
        call("view.get", {"path": "agendas/u1"}, ...),
        call("view.delete", {}, ...),  # unknown method
        call("view.get", [], ...),  # invalid params
        call("view.get", {"path": "agendas/u2"}, ...),  # refused
    ):
        response = api("POST", "/rpc", uid="u1", body=notification)
        assert (response.status, response.body) == (204, b""), notification
    create = call(
        "command.create",
        {"path": "users/u1/attendanceRequests", "data": {"meetingId": "m1", "attendance": False}},
        ...,
    )
    assert api("POST", "/rpc", uid="u1", body=create).status == 204
    # A notification is still carried out: only its answer is dropped.
    assert api.commands("users/u1/attendanceRequests") == [{"meetingId": "m1", "attendance": False}]


def test_rpc_batches_hold_1_to_50_calls(api: Api) -> None:
    error_of(api.rpc([]), INVALID_REQUEST, None)
    too_many = api.rpc([call("view.get", {"path": "agendas/u1"}, n) for n in range(MAX_BATCH + 1)])
    assert isinstance(too_many, dict)
    assert str(MAX_BATCH) in error_of(too_many, INVALID_REQUEST, None)["message"]
    full = api.rpc([call("view.get", {"path": "agendas/u1"}, n) for n in range(MAX_BATCH)])
    assert [answer["id"] for answer in full] == list(range(MAX_BATCH))
    assert all(answer["result"]["uid"] == "u1" for answer in full)


def test_rpc_a_mixed_batch_answers_each_call_in_order(api: Api) -> None:
    answers = api.rpc(
        [
            call("view.get", {"path": "agendas/u1"}, 1),
            call("view.get", {"path": "agendas/u1"}, ...),  # a notification: no answer
            42,
            call("nothing.here", {}, "three"),
            call("view.get", {"path": "agendas/u2"}, 4),
            call("view.get", {}, None),
            call(
                "command.create",
                {
                    "path": "users/u1/attendanceRequests",
                    "data": {"meetingId": "m1", "attendance": True},
                },
                6,
            ),
        ]
    )
    assert [answer["id"] for answer in answers] == [1, None, "three", 4, None, 6]
    assert answers[0]["result"]["uid"] == "u1"
    error_of(answers[1], INVALID_REQUEST, None)
    error_of(answers[2], METHOD_NOT_FOUND, "three")
    assert error_of(answers[3], SERVER_ERROR, 4)["data"]["status"] == 403
    error_of(answers[4], INVALID_PARAMS, None)
    assert answers[5]["result"]["status"] == "pending"
    created = api.db.document(f"users/u1/attendanceRequests/{answers[5]['result']['id']}").get()
    assert created.to_dict() == {"meetingId": "m1", "attendance": True}


def test_rpc_a_batch_of_notifications_only_is_204(api: Api) -> None:
    batch = [call("view.get", {"path": "agendas/u1"}, ...), call("view.nope", {}, ...)]
    response = api("POST", "/rpc", uid="u1", body=batch)
    assert (response.status, response.body) == (204, b"")


def test_rpc_with_an_invalid_token_is_a_401_problem(api: Api) -> None:
    response = api(
        "POST",
        "/rpc",
        body=call("view.get", {"path": "agendas/u1"}),
        headers={"Authorization": "Bearer x"},
    )
    assert_problem(response, 401, "unauthenticated", "/rpc")


# -- validate_command --------------------------------------------------------------------
def rejected(command: type[Any], body: Any) -> dict[str, str]:
    """The 422's invalid fields, by field: their pydantic (or boiler) error type."""
    with pytest.raises(ApiError) as raised:
        validate_command(command, body)
    error = raised.value
    assert (error.status, error.code) == (422, "invalid-command")
    return {problem.field: problem.type for problem in error.errors}


def test_a_valid_command_is_its_camel_case_fields() -> None:
    body = {"meetingId": "m1", "attendance": True}
    assert validate_command(AttendanceRequest, body) == body
    status = {"newStatus": "closed", "requestedBy": "u1"}
    assert validate_command(StatusRequest, status) == status


def test_snake_case_keys_are_unknown_fields() -> None:
    assert rejected(AttendanceRequest, {"meeting_id": "m1", "attendance": True}) == {
        "meeting_id": "extra_forbidden"
    }
    with pytest.raises(ApiError) as raised:
        validate_command(StatusRequest, {"new_status": "closed", "requestedBy": "u1"})
    (problem,) = raised.value.errors
    assert (problem.field, problem.type) == ("new_status", "extra_forbidden")
    assert "newStatus" in problem.message  # the unknown field's message lists the known ones


@pytest.mark.parametrize("reserved", ["status", "reason", "processedAt", "supersededBy"])
def test_fields_boiler_writes_are_unknown(reserved: str) -> None:
    body = {"meetingId": "m1", "attendance": True, reserved: "applied"}
    assert rejected(AttendanceRequest, body) == {reserved: "extra_forbidden"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"meetingId": "m1", "attendance": "yes"}, "attendance"),
        ({"meetingId": "m1", "attendance": 1}, "attendance"),
        ({"meetingId": "m1", "attendance": None}, "attendance"),
        ({"meetingId": 7, "attendance": True}, "meetingId"),
        ({"meetingId": "", "attendance": True}, "meetingId"),
        ({"meetingId": ["m1"], "attendance": True}, "meetingId"),
        ({"attendance": True}, "meetingId"),
    ],
)
def test_types_are_strict(body: dict[str, Any], field: str) -> None:
    assert set(rejected(AttendanceRequest, body)) == {field}


def test_every_invalid_field_is_named_at_once() -> None:
    body = {"meetingId": 7, "attendance": "yes", "extra": 1, "status": "applied"}
    assert set(rejected(AttendanceRequest, body)) == {"meetingId", "attendance", "extra", "status"}
    assert rejected(StatusRequest, {"newStatus": "paused", "requestedBy": "u1"}) == {
        "newStatus": "literal_error"
    }


@pytest.mark.parametrize("body", [None, [], "m1", 3, [{"meetingId": "m1", "attendance": True}]])
def test_a_command_is_an_object(body: Any) -> None:
    assert rejected(AttendanceRequest, body) == {"": "object_type"}


def test_an_invalid_command_over_http_is_a_422_naming_the_fields(api: Api) -> None:
    path = "/v1/users/u1/attendanceRequests"
    body = {"meeting_id": "m1", "attendance": "yes", "status": "applied"}
    problem = assert_problem(api("POST", path, uid="u1", body=body), 422, "invalid-command", path)
    named = {error["field"]: error["type"] for error in problem["errors"]}
    assert named == {
        "meeting_id": "extra_forbidden",
        "status": "extra_forbidden",
        "attendance": "bool_type",
    }
    assert all(error["message"] for error in problem["errors"])
    assert api.commands("users/u1/attendanceRequests") == []


# -- the OpenAPI document -------------------------------------------------------------------
@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return openapi_document(BUILD)


def test_the_document_is_openapi_3_1_and_served_as_committed(
    api: Api, document: dict[str, Any]
) -> None:
    assert document["openapi"] == "3.1.0"
    served = api("GET", "/openapi.json")  # no token needed
    assert (served.status, served.headers["Content-Type"]) == (200, "application/json")
    assert served.body == render(document).encode() == (ROOT / "openapi.json").read_bytes()


def test_the_document_validates_against_the_openapi_3_1_schema(document: dict[str, Any]) -> None:
    schemathesis.openapi.from_dict(document).validate()
    broken = copy.deepcopy(document)
    broken["paths"]["/v1/agendas/{uid}"]["get"]["responses"] = []  # a list, not a map
    with pytest.raises(jsonschema_rs.ValidationError):
        schemathesis.openapi.from_dict(broken).validate()


def test_every_served_view_and_command_has_its_paths(document: dict[str, Any]) -> None:
    resources = Resources.of(BUILD)
    assert {view.__name__ for view in resources.views} == {
        "MeetingSession",
        "Agenda",
        "LocationBoard",
    }
    expected = {"/rpc": {"post"}}
    for view in resources.views:
        template = view.spec().template
        expected[f"/v1/{template}"] = {"get"}
        expected[f"/v1/{template.collection}"] = {"get"}
    for command in resources.commands:
        template = command.spec().template
        expected[f"/v1/{template}"] = {"get"}
        expected[f"/v1/{template.collection}"] = {"post"}
    assert {path: set(item) for path, item in document["paths"].items()} == expected
    for path, item in document["paths"].items():
        for operation in item.values():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == set(re.findall(r"{(\w+)}", path)), path
            assert "default" in operation["responses"], path


def test_closed_views_are_not_in_the_document(document: dict[str, Any]) -> None:
    assert MeetingCard.spec().readable_by is None
    text = json.dumps(document)
    assert "meetingCards" not in text
    assert "MeetingCard" not in document["components"]["schemas"]


def test_every_schema_reference_exists(document: dict[str, Any]) -> None:
    def refs(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref":
                    yield value
                else:
                    yield from refs(value)
        elif isinstance(node, list):
            for item in node:
                yield from refs(item)

    found = set(refs(document))
    schemas = document["components"]["schemas"]
    assert found  # the document does use references
    for ref in found:
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.removeprefix("#/components/schemas/") in schemas, ref
    for name in (
        "MeetingSession",
        "AgendaPage",
        "AttendanceRequest",
        "AttendanceRequestState",
        "Problem",
    ):
        assert f"#/components/schemas/{name}" in found, name


def test_view_schemas_describe_what_the_api_returns(api: Api, document: dict[str, Any]) -> None:
    view = api("GET", SESSION, uid="u1").decoded()
    page = api("GET", "/v1/users/u1/meetingSessions", uid="u1").decoded()
    error = api("GET", SESSION, uid="u2").decoded()
    root = {"components": document["components"]}
    for name, instance in (
        ("MeetingSession", view),
        ("MeetingSessionPage", page),
        ("Problem", error),
    ):
        validator = jsonschema_rs.Draft202012Validator(
            {**root, "$ref": f"#/components/schemas/{name}"}
        )
        assert validator.is_valid(instance), list(validator.iter_errors(instance))
    session = jsonschema_rs.Draft202012Validator(
        {**root, "$ref": "#/components/schemas/MeetingSession"}
    )
    assert not session.is_valid({**view, "numAttending": "one"})
    assert not session.is_valid({**view, "unknown": 1})  # views are closed objects


# -- /docs -------------------------------------------------------------------------------------
def test_the_docs_page_loads_nothing_from_elsewhere(api: Api) -> None:
    response = api("GET", "/docs")
    assert (response.status, response.headers["Content-Type"]) == (200, "text/html; charset=utf-8")
    page = response.body.decode()
    assert "<title>meeting_room API</title>" in page
    assert not re.search(r"https?://", page)
    linked = set(re.findall(r'(?:href|src)="docs/([^"]+)"', page))
    assert linked == {"swagger-ui.css", "favicon-32x32.png", "swagger-ui-bundle.js"}
    assert linked <= set(docs.ASSETS)


def test_the_docs_assets_come_from_the_swagger_ui_package(api: Api) -> None:
    spec = importlib.util.find_spec("swagger_ui")  # its files, without its web glue
    assert spec is not None and spec.submodule_search_locations
    static = Path(next(iter(spec.submodule_search_locations))) / "static"
    types = {"css": "text/css", "js": "text/javascript", "png": "image/png"}
    for asset in docs.ASSETS:
        response = api("GET", f"/docs/{asset}")
        assert response.status == 200, asset
        assert response.body == (static / asset).read_bytes()
        assert response.headers["Content-Type"] in (
            types[asset.rsplit(".", 1)[1]],
            "application/javascript",
        )
        assert response.headers["Cache-Control"] == "public, max-age=86400"


@pytest.mark.parametrize(
    "asset", ["index.html", "../openapi.json", "../../pyproject.toml", "oauth2-redirect.html"]
)
def test_only_the_listed_docs_assets_are_served(api: Api, asset: str) -> None:
    path = f"/docs/{asset}"
    assert_problem(api("GET", path), 404, "not-found", path)


def test_docs_with_a_trailing_slash_redirects_to_the_page(api: Api) -> None:
    response = api("GET", "/docs/")
    assert (response.status, response.headers["Location"]) == (308, "../docs")
