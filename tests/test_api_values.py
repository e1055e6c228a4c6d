"""Values the API must refuse before Firestore does: what a model allows but Firestore cannot
store, and what Python's json reads but JSON is not (in-process, the real Firestore emulator)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from boiler import App, Command, CommandContext, DomainModel, compile_app, uid_in_path
from boiler.api.http import HttpApi, HttpRequest
from boiler.api.service import Service
from boiler.testing.rest import unsigned_token
from google.cloud import firestore


class Counter(DomainModel, path="counters/{counterId}"):
    value: int = 0


class AddToCounter(Command, path="users/{uid}/adds/{addId}", creatable_by=uid_in_path("uid")):
    amount: int
    tags: dict[str, list[int]] = {}

    def apply(self, ctx: CommandContext) -> None:
        ctx.set(Counter, "c", value=self.amount)


APP = App("values", domain=[Counter], commands=[AddToCounter])


@pytest.fixture
def api(firestore: firestore.Client, monkeypatch: pytest.MonkeyPatch) -> HttpApi:
    monkeypatch.setenv("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9")  # unsigned tokens: accepted
    return HttpApi(compile_app(APP), Service(firestore))


def create(api: HttpApi, body: bytes) -> tuple[int, Any]:
    token = unsigned_token("u1", api.service.client.project)
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    answer = api.handle(HttpRequest("POST", "/v1/users/u1/adds", headers=headers, body=body))
    return answer.status, answer.decoded()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": 2**63}, "amount"),
        ({"amount": -(2**63) - 1}, "amount"),
        ({"amount": 1, "tags": {"a": [1, 2**64]}}, "tags.a.1"),
    ],
)
def test_ints_firestore_cannot_store_are_422_and_nothing_is_written(
    api: HttpApi, firestore: firestore.Client, body: dict[str, Any], field: str
) -> None:
    status, problem = create(api, json.dumps(body).encode())
    assert status == 422, problem
    assert [error["field"] for error in problem["errors"]] == [field]
    assert list(firestore.collection("users/u1/adds").stream()) == []


def test_the_largest_storable_int_is_stored(api: HttpApi, firestore: firestore.Client) -> None:
    status, outcome = create(api, json.dumps({"amount": 2**63 - 1}).encode())
    assert status == 202, outcome
    stored = firestore.document(f"users/u1/adds/{outcome['id']}").get().to_dict()
    assert stored == {"amount": 2**63 - 1}


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(api: HttpApi, constant: str) -> None:
    status, problem = create(api, f'{{"amount": {constant}}}'.encode())
    assert (status, problem["code"]) == (400, "bad-json")
    assert constant in problem["detail"]
