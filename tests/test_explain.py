"""``boiler explain VIEW`` (boiler/explain.py): every meeting-room view described from its
compiled app, the MeetingSession text pinned whole so a change to it is deliberate."""

from __future__ import annotations

import pytest
from boiler import BoilerError, compile_app
from boiler.explain import WIDTH, explain
from boiler.rules import generate_rules
from meeting_room import app

BUILD = compile_app(app)
VIEWS = [view.spec().name for view in app.views]

MEETING_SESSION = """\
MeetingSession: a record view (built whole from one record per key), version 1
  path     users/{uid}/meetingSessions/{meetingId}
  key      {meetingId}: the id of its root, one aggregate per Meeting document
  fan-out  {uid}: build() returns {uid: view}, one document per value
  fields (as stored)
    meetingId               str
    title                   str
    address                 str | None
    latitude                float | None
    longitude               float | None
    inSession               bool
    attending               list[Attendee]
    numAttending            int
    numHearingAidRequested  int

Sources (MeetingData), in declaration order
  meeting       Root(Meeting)
                documents: meetings/{meetingId}
  location      Join(Location, on='location_id')
                documents: locations/{locationId}
  tickets       Children(Ticket, max=1000)
                documents: meetings/{meetingId}/tickets/{uid}
  participants  Many(User, ids='participant_ids', max=1000)
                documents: users/{uid}

Functions (on_document_written), each with how a change finds the views to update
  meeting_session_on_meeting
    listens to  meetings/{meetingId}
    finds       its own aggregate: the key is the document's id, {meetingId}
  meeting_session_on_location
    listens to  locations/{locationId}
    finds       the aggregates whose records list the document in deps (the root's location_id named
                it at their last build): an array-contains query on the records, a page at a time
  meeting_session_on_ticket
    listens to  meetings/{meetingId}/tickets/{uid}
    finds       its root's aggregate: the key is {meetingId} in the document's path
  meeting_session_on_user
    listens to  users/{uid}
    finds       the aggregates whose records list the document in deps (the root's participant_ids
                named it at their last build): an array-contains query on the records, a page at a
                time
  record per key  _boilerAggregates/MeetingSession/_boilerRecords/{meetingId}

Readable by (any one alternative suffices)
  - a signed-in user whose uid is {uid} in the path
  rules: match /users/{uid}/meetingSessions/{meetingId}
         allow get, list: if request.auth != null && request.auth.uid == uid;
  plain list of users/{uid}/meetingSessions: allowed, by what needs neither the document's id nor
    its fields: a signed-in user whose uid is {uid} in the path

Views
  reads    no other view
  read by  no other view
"""


def test_meeting_session_is_explained_exactly() -> None:
    assert explain(BUILD, "MeetingSession") == MEETING_SESSION


@pytest.mark.parametrize("name", VIEWS)
def test_every_generated_trigger_and_every_source_is_named(name: str) -> None:
    text = explain(BUILD, name)
    (view,) = [view for view in app.views if view.spec().name == name]
    triggers = [trigger for trigger in BUILD.triggers if trigger.view is view]
    assert triggers
    for trigger in triggers:
        assert f"  {trigger.name}\n    listens to  {trigger.document}\n" in text
    sources = view.spec().sources
    unwrapped = "".join(text.split())  # declarations may be broken over lines
    for source_name, spec in {**sources.__sources__, **sources.__aggregates__}.items():
        assert f"\n  {source_name} " in text
        assert "".join(spec.describe().split()) in unwrapped
    assert text == explain(BUILD, name)  # deterministic


@pytest.mark.parametrize("name", VIEWS)
def test_the_rules_condition_is_the_generated_one(name: str) -> None:
    text, rules = explain(BUILD, name), generate_rules(BUILD)
    allow = [line.strip() for line in text.splitlines() if "allow get, list" in line]
    if name == "MeetingCard":
        assert allow == [] and "closed to clients" in text
    else:
        assert len(allow) == 1 and f"      {allow[0]}\n" in rules


@pytest.mark.parametrize("name", VIEWS)
def test_lines_fit_a_terminal_without_trailing_spaces(name: str) -> None:
    for line in explain(BUILD, name).splitlines():
        assert line == line.rstrip()
        assert len(line) <= WIDTH or "allow get, list" in line


def test_aggregate_views_name_how_a_member_finds_its_keys_and_what_they_read() -> None:
    agenda = explain(BUILD, "Agenda")
    assert "Top(Query(MeetingCard).where('participant_ids', 'array-contains', KEY)" in agenda
    assert "(participant_ids array-contains KEY)" in agenda
    assert "reads    MeetingCard (through agenda_on_meeting_card)" in agenda
    assert "plain list of agendas: not allowed" in agenda
    board = explain(BUILD, "LocationBoard")
    assert "(location_id == KEY)" in board
    assert "plain list of locationBoards: allowed" in board
    card = explain(BUILD, "MeetingCard")
    assert (
        "read by  Agenda (through agenda_on_meeting_card), LocationBoard (through\n"
        "           location_board_on_meeting_card)"
    ) in card


def test_an_unknown_view_is_an_error_listing_the_views() -> None:
    with pytest.raises(BoilerError) as raised:
        explain(BUILD, "MeetingSessions")
    assert raised.value.code == "unknown-view"
    assert "MeetingSession, MeetingCard, Agenda, LocationBoard" in str(raised.value)


def test_the_boiler_command_prints_the_explanation_and_refuses_unknown_views(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from boiler.cli import main

    assert main(["explain", "--app", "meeting_room", "MeetingSession"]) == 0
    assert capsys.readouterr().out == explain(compile_app(app), "MeetingSession")
    assert main(["explain", "--app", "meeting_room", "Nope"]) == 2
    error = capsys.readouterr().err
    assert "[unknown-view]" in error
    assert "MeetingSession, MeetingCard, Agenda, LocationBoard" in error
