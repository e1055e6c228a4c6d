"""The API's operations on views and commands, each decided by the access evaluator.

Every read and create is allowed exactly when the generated ``firestore.rules`` would allow
a Firebase client the same request: both come from the same ``readable_by``/``creatable_by``
declarations (``boiler.access_evaluator`` decides them here, the rules decide them there).
The API reads and writes with the server's client, so nothing but that check guards it.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from google.api_core.exceptions import InvalidArgument
from google.cloud import firestore
from pydantic import BaseModel, ValidationError

from ..access import Access
from ..access_evaluator import allowed, decided_by_path, may_list, reads_documents
from ..commands import PROCESSED_AT, REASON, STATUS, SUPERSEDED_BY, Command
from ..paths import document_id_problem
from ..runtime.client import firestore_client
from .caller import Caller
from .problems import ApiError, FieldProblem, bad_request, forbidden, not_found, unauthenticated
from .resources import CommandCollection, CommandDocument, ViewCollection, ViewDocument

MAX_WAIT_SECONDS = 30.0
DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 20, 100
PENDING = "pending"


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_page_token: str | None

    def body(self) -> dict[str, Any]:
        return {"items": self.items, "nextPageToken": self.next_page_token}


class Service:
    """Reads views and commands, creates commands; raises ``ApiError`` for every refusal."""

    def __init__(self, client: firestore.Client | None = None) -> None:
        self._client = client

    @property
    def client(self) -> firestore.Client:
        return self._client or firestore_client()

    # -- views

    def get_view(self, caller: Caller | None, resource: ViewDocument) -> dict[str, Any]:
        """The view document's fields (camelCase, JSON types)."""
        spec = resource.view.spec()
        data = self._read(caller, spec.readable_by, resource.view, resource.path, resource.params)
        if data is None:
            raise not_found(f"no {spec.name} at {resource.path} (yet): views appear once built")
        return _view_body(resource.view, resource.path, data)

    def require_read(
        self, caller: Caller | None, resource: ViewDocument, data: Mapping[str, Any] | None
    ) -> None:
        """``get_view``'s access decision on stored fields already read (a listener's
        snapshot; None: absent), 401/403 ``ApiError`` if refused: a live server decides it per
        subscriber, and shapes each version's body once for them all (``view_json``). It
        reads other documents only when ``reads_to_decide(resource)``."""
        spec = resource.view.spec()
        what = f"read {resource.path}"
        self._require(caller, spec.readable_by, resource.view, resource.params, data or {}, what)

    def refuse_early(self, caller: Caller | None, resource: ViewDocument) -> None:
        """``require_read``'s refusal when the caller and the path alone decide it (before
        any listener or read: a forbidden subscription costs nothing); else nothing yet."""
        if decided_by_path(resource.view.spec().readable_by):
            self.require_read(caller, resource, None)

    @staticmethod
    def reads_to_decide(resource: ViewDocument) -> bool:
        """Whether ``require_read`` may read Firestore (else it is pure and quick)."""
        return reads_documents(resource.view.spec().readable_by)

    @staticmethod
    def view_json(resource: ViewDocument, data: Mapping[str, Any] | None) -> str:
        """``get_view``'s body of stored fields as JSON text, without the access decision
        ("null": absent)."""
        if data is None:
            return "null"
        try:
            return resource.view.model_validate(data).model_dump_json(by_alias=True)
        except ValidationError as error:
            raise _shape_mismatch(resource.view, resource.path, error) from None

    def list_views(
        self,
        caller: Caller | None,
        resource: ViewCollection,
        page_size: int = DEFAULT_PAGE_SIZE,
        page_token: str | None = None,
    ) -> Page:
        """One page of the collection's documents, ordered by id."""
        spec = resource.view.spec()
        if not may_list(
            spec.readable_by,
            model=resource.view,
            id_wildcard=spec.template.id_wildcard,
            uid=caller.uid if caller else None,
            claims=caller.claims if caller else {},
            path_params=resource.params,
            lookup=self._lookup,
        ):
            if caller is None and not _public(spec.readable_by):
                raise unauthenticated()
            raise forbidden(
                f"you may not list {resource.path}: {spec.name}'s readable_by does not let you "
                "read every document in it (get them one by one instead)"
            )
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise bad_request(
                f"pageSize must be 1 to {MAX_PAGE_SIZE}, got {page_size}", "bad-page-size"
            )
        collection = self.client.collection(resource.path)
        query = collection.order_by("__name__").limit(page_size + 1)
        if page_token is not None:
            query = query.start_after({"__name__": _decode_token(page_token)})
        snapshots = list(query.stream())
        more = len(snapshots) > page_size
        items = [
            {"id": s.id, **_view_body(resource.view, s.reference.path, s.to_dict() or {})}
            for s in snapshots[:page_size]
        ]
        return Page(items, _encode_token(snapshots[page_size - 1].id) if more else None)

    # -- commands

    def create_command(
        self, caller: Caller | None, resource: CommandCollection, body: Any, wait: float = 0
    ) -> dict[str, Any]:
        """Validate, check ``creatable_by``, then create the command; with ``wait`` seconds,
        return its outcome once processed (else ``pending``)."""
        command = resource.command
        if not 0 <= wait <= MAX_WAIT_SECONDS:
            raise bad_request(
                f"wait must be 0 to {MAX_WAIT_SECONDS:g} seconds, got {wait:g}", "bad-wait"
            )
        spec = command.spec()
        if caller is None and not _public(spec.creatable_by):
            raise unauthenticated()
        fields = validate_command(command, body)
        reference = self.client.collection(resource.path).document()
        params = {**resource.params, spec.template.id_wildcard or "": reference.id}
        self._require(
            caller,
            spec.creatable_by,
            command,
            params,
            fields,
            f"create {spec.name} in {resource.path}",
        )
        try:
            reference.create(fields)
        except InvalidArgument as error:  # a value Firestore cannot store that the model allowed
            raise ApiError(
                422,
                f"Firestore cannot store this {spec.name}: {error.message}",
                "invalid-command",
            ) from None
        if wait > 0:
            outcome = _await_outcome(reference, wait)
            if outcome is not None:
                return _outcome(reference.id, outcome)
        return {"id": reference.id, "status": PENDING}

    def get_command(self, caller: Caller | None, resource: CommandDocument) -> dict[str, Any]:
        """The command's fields and its outcome (``status`` is ``pending`` until processed)."""
        spec = resource.command.spec()
        data = self._read(
            caller, spec.readable_by, resource.command, resource.path, resource.params
        )
        if data is None:
            raise not_found(f"no {spec.name} at {resource.path}")
        declared = {key: value for key, value in data.items() if key not in _STATUS_FIELDS}
        command_id = resource.path.rsplit("/", 1)[-1]
        return {
            "id": command_id,
            **jsonable(declared),
            **_outcome(command_id, data),
            PROCESSED_AT: jsonable(data.get(PROCESSED_AT)),
            SUPERSEDED_BY: data.get(SUPERSEDED_BY),
        }

    # -- access

    def _read(
        self,
        caller: Caller | None,
        access: Access | None,
        model: type,
        path: str,
        params: Mapping[str, str],
    ) -> dict[str, Any] | None:
        """The document at ``path`` if ``access`` lets the caller read it (None: absent)."""
        snapshot = self.client.document(path).get()
        data = snapshot.to_dict() if snapshot.exists else None
        self._require(caller, access, model, params, data or {}, f"read {path}")
        return data

    def _require(
        self,
        caller: Caller | None,
        access: Access | None,
        model: type,
        params: Mapping[str, str],
        fields: Mapping[str, Any],
        what: str,
    ) -> None:
        if allowed(
            access,
            model=model,
            uid=caller.uid if caller else None,
            claims=caller.claims if caller else {},
            path_params=params,
            fields=fields,
            lookup=self._lookup,
        ):
            return
        if caller is None:
            raise unauthenticated()
        raise forbidden(f"you may not {what}: {model.__name__}'s access declaration forbids it")

    def _lookup(self, path: str) -> Mapping[str, Any] | None:
        snapshot = self.client.document(path).get()
        return snapshot.to_dict() if snapshot.exists else None


_STATUS_FIELDS = (STATUS, REASON, PROCESSED_AT, SUPERSEDED_BY)


def validate_command(command: type[Command], body: Any) -> dict[str, Any]:
    """The command's stored fields (camelCase, as given), or 422 naming every invalid field.

    Keys must be the stored (camelCase) names, as the rules' ``hasOnly`` requires of clients.
    """
    if not isinstance(body, dict):
        raise ApiError(
            422,
            f"a {command.__name__} is a JSON object of its fields",
            "invalid-command",
            [FieldProblem("", "expected an object", "object_type")],
        )
    stored = {info.alias or name: name for name, info in command.model_fields.items()}
    unknown = [
        FieldProblem(
            key, f"unknown field; {command.__name__} has {sorted(stored)}", "extra_forbidden"
        )
        for key in body
        if key not in stored
    ]
    try:
        # JSON mode: strict types (no "yes" for true), ISO strings for datetimes.
        model = command.model_validate_json(json.dumps(body))
    except ValidationError as error:
        problems = [
            FieldProblem(".".join(str(part) for part in issue["loc"]), issue["msg"], issue["type"])
            for issue in error.errors()
            if not (issue["type"] == "extra_forbidden")
        ]
        raise ApiError(
            422,
            f"invalid {command.__name__}: fix the fields named in errors",
            "invalid-command",
            [*unknown, *problems],
        ) from None
    unknown += [
        FieldProblem(where, "out of Firestore's 64-bit integer range", "int_range")
        for where in _unstorable_ints(body)
    ]
    if unknown:
        raise ApiError(
            422,
            f"invalid {command.__name__}: fix the fields named in errors",
            "invalid-command",
            unknown,
        )
    return model.model_dump(by_alias=True, exclude_unset=True)


def _unstorable_ints(value: Any, where: str = "") -> list[str]:
    """Where ``value`` holds an int Firestore cannot store (64-bit signed)."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [] if -(2**63) <= value < 2**63 else [where]
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)  # type: ignore[assignment]
    else:
        return []
    return [
        found
        for key, item in items
        for found in _unstorable_ints(item, f"{where}.{key}" if where else str(key))
    ]


def _view_body(view: type[BaseModel], path: str, data: Mapping[str, Any]) -> dict[str, Any]:
    try:
        return view.model_validate(data).model_dump(mode="json", by_alias=True)
    except ValidationError as error:
        raise _shape_mismatch(view, path, error) from None


def _shape_mismatch(view: type[BaseModel], path: str, error: ValidationError) -> ApiError:
    return ApiError(
        500,
        f"the stored {view.__name__} at {path} does not match its model ({error.error_count()} "
        "problems): if its shape changed, raise its version and run `python -m boiler migrate`",
        "view-shape-mismatch",
    )


def _outcome(command_id: str, data: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": command_id, "status": data.get(STATUS) or PENDING, "reason": data.get(REASON)}


def _await_outcome(reference: Any, seconds: float) -> Mapping[str, Any] | None:
    """The command's data once boiler sets its status, or None after ``seconds``."""
    processed = threading.Event()
    outcome: dict[str, Any] = {}

    def on_snapshot(snapshots: list[Any], changes: Any, read_time: Any) -> None:
        for snapshot in snapshots:
            data = snapshot.to_dict() or {}
            if data.get(STATUS) is not None:
                outcome.update(data)
                processed.set()

    watch = reference.on_snapshot(on_snapshot)
    deadline = time.monotonic() + seconds
    try:
        # A listener can fall silent (seen in the emulator: 10 s without the applied status),
        # so read the command each second the listener says nothing.
        while not processed.wait(max(0.0, min(1.0, deadline - time.monotonic()))):
            data = reference.get().to_dict() or {}
            if data.get(STATUS) is not None:
                return data
            if time.monotonic() >= deadline:
                break
    finally:
        watch.unsubscribe()
    return outcome or None


def _public(access: Access | None) -> bool:
    return access is not None and access.public


def _encode_token(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def _decode_token(token: str) -> str:
    try:
        last_id = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        last_id = None
    if document_id_problem(last_id) is not None:
        raise bad_request("pageToken is not one this API returned", "bad-page-token")
    return last_id  # type: ignore[return-value]  # checked: a document id


def jsonable(value: Any) -> Any:
    """A Firestore value as JSON: timestamps as RFC 3339 strings, bytes as base64."""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, Mapping):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if hasattr(value, "latitude") and hasattr(value, "longitude"):
        return {"latitude": value.latitude, "longitude": value.longitude}
    if hasattr(value, "path") and hasattr(value, "id"):  # a DocumentReference
        return value.path
    return value
