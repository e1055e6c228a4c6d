"""boiler/frontend_types.py: the front-end contract. Its JSON Schema is openapi.json's, holds
the views stored in the Firestore emulator and refuses what the API refuses of a command; its
TypeScript type-checks a right use of the meeting room's views and commands, not a wrong one."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from boiler import App, Command, compile_app, uid_in_path
from boiler.api.problems import ApiError
from boiler.api.service import jsonable, validate_command
from boiler.frontend_types import SCHEMA_FILE, TYPESCRIPT_FILE, frontend_files, json_schema
from google.cloud import firestore
from meeting_room import AttendanceRequest, StatusRequest, app
from meeting_room.seed import seed

from .markdown_examples import blocks_run_by
from .meeting_lists import deliver
from .test_typescript import typecheck

ROOT = Path(__file__).resolve().parent.parent
BUILD = compile_app(app)
SERVED_VIEWS = ("Agenda", "LocationBoard", "MeetingSession")


def validator(name: str) -> jsonschema_rs.Draft202012Validator:
    """Validates one model's documents against the committed schema file."""
    document = json.loads((ROOT / SCHEMA_FILE).read_text())
    return jsonschema_rs.Draft202012Validator(
        {"$ref": f"#/$defs/{name}", "$defs": document["$defs"]}, validate_formats=True
    )


def test_the_schema_holds_every_served_view_and_command_and_no_internal_view() -> None:
    document = json_schema(BUILD)
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert jsonschema_rs.meta.is_valid(document)
    defs = document["$defs"]
    assert set(defs) == {*SERVED_VIEWS, "AttendanceRequest", "StatusRequest"} | {
        "AgendaEntry",
        "Attendee",
        "BoardEntry",
    }
    assert "MeetingCard" not in defs  # internal: no readable_by, no client reads it
    assert defs["Agenda"]["$comment"] == "view at agendas/{uid}: clients read it"
    assert defs["StatusRequest"]["$comment"] == (
        "command at meetings/{meetingId}/statusRequests/{requestId}: clients create it"
    )


def test_the_schemas_are_the_ones_openapi_json_serves() -> None:
    components = json.loads((ROOT / "openapi.json").read_text())["components"]["schemas"]
    for name, schema in json_schema(BUILD)["$defs"].items():
        schema.pop("$comment", None)
        as_openapi = json.dumps(schema).replace("#/$defs/", "#/components/schemas/")
        assert json.loads(as_openapi) == components[name], name


def test_the_generated_files_are_stable_bytes() -> None:
    files = frontend_files(BUILD)
    assert files == frontend_files(compile_app(app))
    assert all(
        content.endswith("\n") and not content.endswith("\n\n") for content in files.values()
    )
    schema = files[SCHEMA_FILE]
    assert schema == json.dumps(json.loads(schema), indent=2, sort_keys=True) + "\n"


def test_stored_views_validate_and_a_tampered_one_does_not(firestore: firestore.Client) -> None:
    for path in seed(firestore):
        deliver(firestore, path)
    checked: dict[str, int] = {}
    for view in (v for v in app.views if v.__name__ in SERVED_VIEWS):
        template = view.spec().template
        check = validator(view.__name__)
        for snapshot in firestore.collection_group(template.segments[-2]).stream():
            if template.match(snapshot.reference.path) is None:
                continue
            document = jsonable(snapshot.to_dict())  # as the API serves it: times as strings
            errors = [str(error) for error in check.iter_errors(document)]
            assert errors == [], f"{snapshot.reference.path}: {errors}"
            checked[view.__name__] = checked.get(view.__name__, 0) + 1
    assert set(checked) == set(SERVED_VIEWS) and min(checked.values()) >= 2, checked
    session = firestore.document("users/alice/meetingSessions/kickoff").get().to_dict() or {}
    assert validator("MeetingSession").is_valid(jsonable(session))
    for tampered in (
        {**session, "numAttending": "2"},
        {**session, "attending": [{"uid": "alice"}]},
        {**session, "extra": 1},
        {key: value for key, value in session.items() if key != "title"},
    ):
        assert not validator("MeetingSession").is_valid(jsonable(tampered))
    agenda = jsonable(firestore.document("agendas/alice").get().to_dict())
    scheduled = next(entry for entry in agenda["meetings"] if entry["startsAt"])
    scheduled["startsAt"] = "next tuesday"  # date-time is checked
    assert not validator("Agenda").is_valid(agenda)


COMMAND_BODIES: list[tuple[type[Command], Any]] = [
    (AttendanceRequest, {"meetingId": "kickoff", "attendance": True}),
    (AttendanceRequest, {"meetingId": "kickoff", "attendance": "yes"}),
    (AttendanceRequest, {"meetingId": "kickoff"}),
    (AttendanceRequest, {"meetingId": "", "attendance": False}),
    (AttendanceRequest, {"meetingId": "kickoff", "attendance": True, "status": "applied"}),
    (AttendanceRequest, {"meeting_id": "kickoff", "attendance": True}),  # Python's spelling
    (AttendanceRequest, {"meetingId": 7, "attendance": True}),
    (AttendanceRequest, ["kickoff", True]),
    (StatusRequest, {"newStatus": "closed", "requestedBy": "alice"}),
    (StatusRequest, {"newStatus": "done", "requestedBy": "alice"}),
    (StatusRequest, {"newStatus": "closed", "requestedBy": "x" * 129}),
]


@pytest.mark.parametrize(("command", "body"), COMMAND_BODIES)
def test_the_command_schema_refuses_what_the_api_refuses(command: type[Command], body: Any) -> None:
    try:
        validate_command(command, body)
        accepted = True
    except ApiError as error:
        assert error.status == 422
        accepted = False
    assert validator(command.__name__).is_valid(body) is accepted, body


def test_an_invalid_command_is_rejected_by_its_schema_naming_the_field() -> None:
    errors = list(validator("AttendanceRequest").iter_errors({"meetingId": "m1", "attendance": 1}))
    assert [list(error.instance_path) for error in errors] == [["attendance"]]


RIGHT_USE = """\
import { Timestamp } from "firebase/firestore";
import {
  type AttendanceRequest, type CommandDocuments, type Views, commands, fillPath, views,
} from "./boiler";

export const request: AttendanceRequest = { meetingId: "kickoff", attendance: true };
export const where: string = fillPath(commands.AttendanceRequest.collection, { uid: "alice" });
export const view: string = fillPath(views.MeetingSession.path, { uid: "a", meetingId: "m" });
export function starts(agenda: Views["Agenda"]): Timestamp | null {
  return agenda.meetings[0]?.startsAt ?? null;
}
export function outcome(command: CommandDocuments["StatusRequest"]): string {
  return `${command.newStatus} ${command.status ?? "pending"} ${command.reason ?? ""}`;
}
"""

WRONG_USES = {
    "a number for a string field": (
        "export const r: AttendanceRequest = { meetingId: 7, attendance: true };\n"
    ),
    "a field boiler writes, in a command": (
        "export const r: AttendanceRequest = "
        '{ meetingId: "m", attendance: true, status: "applied" };\n'
    ),
    "a path without one of its wildcards": (
        'export const p = fillPath(views.MeetingSession.path, { uid: "alice" });\n'
    ),
    "a view field that does not exist": "export const n = ({} as Views['Agenda']).numMeetings;\n",
    "a status boiler never writes": (
        'export const s: CommandDocuments["StatusRequest"]["status"] = "pending";\n'
    ),
}


def test_the_generated_typescript_type_checks_a_right_use(tmp_path: Path) -> None:
    generated = frontend_files(BUILD)[TYPESCRIPT_FILE]
    done = typecheck(tmp_path, {"boiler.ts": generated, "use.ts": RIGHT_USE})
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("case", sorted(WRONG_USES))
def test_the_generated_typescript_refuses_a_wrong_use(tmp_path: Path, case: str) -> None:
    header = (
        "import { type AttendanceRequest, type CommandDocuments, type Views, fillPath, views } "
        'from "./boiler";\n'
    )
    files = {
        "boiler.ts": frontend_files(BUILD)[TYPESCRIPT_FILE],
        "wrong.ts": header + WRONG_USES[case],
    }
    done = typecheck(tmp_path, files)
    errors = [line for line in done.stdout.splitlines() if ": error TS" in line]
    assert done.returncode != 0 and errors, f"tsc accepted {case}"
    assert all(line.startswith("wrong.ts(2,") for line in errors), done.stdout


def test_the_docs_typescript_example_type_checks(tmp_path: Path) -> None:
    """docs/frontend-types.md's example, against the generated file where it imports it."""
    (block,) = blocks_run_by(__file__)
    assert block.language == "ts" and "./generated/boiler" in block.text, block.where
    generated = frontend_files(BUILD)[TYPESCRIPT_FILE]
    done = typecheck(tmp_path, {"generated/boiler.ts": generated, "example.ts": block.text})
    assert done.returncode == 0, f"{block.where}:\n{done.stdout}{done.stderr}"


class Reschedule(
    Command, path="users/{uid}/reschedules/{requestId}", creatable_by=uid_in_path("uid")
):
    """Move my slot."""

    starts_at: dt.datetime

    def apply(self, ctx: Any) -> None:  # never applied here
        raise NotImplementedError


def test_a_command_timestamp_is_written_as_timestamp_or_date_and_read_back_as_timestamp() -> None:
    files = frontend_files(compile_app(App("slots", commands=[Reschedule])))
    typescript = files[TYPESCRIPT_FILE]
    assert "export interface Reschedule {\n  startsAt: Timestamp;\n}" in typescript
    assert "export interface RescheduleInput {\n  startsAt: Timestamp | Date;\n}" in typescript
    assert "  Reschedule: RescheduleInput;\n" in typescript  # Commands: what a client writes
    assert "  Reschedule: Reschedule & CommandOutcome;\n" in typescript  # read back
    assert "export const views = {\n} as const;" in typescript
    schema = json.loads(files[SCHEMA_FILE])["$defs"]["Reschedule"]
    assert schema["properties"]["startsAt"] == {
        "format": "date-time",
        "title": "Startsat",
        "type": "string",
    }
