"""What meeting-room clients may ask for: their own attendance, and (hosts) the meeting status."""

from __future__ import annotations

from typing import Annotated

from boiler import (
    Command,
    CommandContext,
    CommandRejected,
    auth_uid,
    document,
    field_value,
    path_param,
    uid_in_field,
    uid_in_path,
)
from pydantic import Field

from .domain import Meeting, MeetingStatus, Ticket

# Firestore auto-ids are 20 characters; leave room for readable ids in tests and seeds.
DocumentId = Annotated[str, Field(min_length=1, max_length=128)]

# The meeting life cycle: it starts, runs, ends; closed is final.
TRANSITIONS: dict[str, frozenset[str]] = {
    "not-started": frozenset({"in-session", "closed"}),
    "in-session": frozenset({"closed"}),
    "closed": frozenset(),
}


def participant_of(meeting: Meeting, uid: str | None, meeting_id: str) -> None:
    """Re-check membership inside the transaction: it may have changed since the rules let it in."""
    if uid is None or uid not in meeting.participant_ids:
        raise CommandRejected(f"you are not a participant of meeting {meeting_id}")


class AttendanceRequest(
    Command,
    path="users/{uid}/attendanceRequests/{requestId}",
    creatable_by=uid_in_path("uid")
    & document(Meeting, meetingId=field_value("meetingId")).lists_uid("participant_ids"),
    orders_on=("uid", "meeting_id"),
):
    """Set my attendance for a meeting I take part in; my latest request wins."""

    meeting_id: DocumentId
    attendance: bool

    def apply(self, ctx: CommandContext) -> None:
        meeting = ctx.get(Meeting, self.meeting_id)
        if meeting is None:
            raise CommandRejected(f"meeting {self.meeting_id} does not exist")
        participant_of(meeting, ctx.uid, self.meeting_id)
        if meeting.status == "closed":
            raise CommandRejected(f"meeting {self.meeting_id} is closed")
        ticket = ctx.get(Ticket, self.meeting_id, ctx.uid)
        if ticket is None:
            ctx.set(Ticket(attendance=self.attendance), self.meeting_id, ctx.uid)
        elif ticket.attendance != self.attendance:
            ctx.update(Ticket, self.meeting_id, ctx.uid, attendance=self.attendance)


class StatusRequest(
    Command,
    path="meetings/{meetingId}/statusRequests/{requestId}",
    creatable_by=uid_in_field("requestedBy")
    & document(Meeting, meetingId=path_param("meetingId")).lists_uid("participant_ids")
    & document(Ticket, meetingId=path_param("meetingId"), uid=auth_uid()).has("role", "host"),
    orders_on=("meetingId",),
):
    """Move the meeting along its life cycle (hosts only); ``requested_by`` must be my uid.

    The field is ``newStatus``, not ``status``: ``status`` is where boiler reports the outcome.
    """

    new_status: MeetingStatus
    requested_by: DocumentId

    def apply(self, ctx: CommandContext) -> None:
        meeting_id = ctx.params["meetingId"]
        meeting = ctx.get(Meeting, meeting_id)
        if meeting is None:
            raise CommandRejected(f"meeting {meeting_id} does not exist")
        participant_of(meeting, ctx.uid, meeting_id)
        ticket = ctx.get(Ticket, meeting_id, ctx.uid)
        if ticket is None or ticket.role != "host":
            raise CommandRejected(f"only a host of meeting {meeting_id} may change its status")
        if self.new_status == meeting.status:
            raise CommandRejected(f"meeting {meeting_id} is already {self.new_status!r}")
        if self.new_status not in TRANSITIONS[meeting.status]:
            allowed = sorted(TRANSITIONS[meeting.status]) or "nothing (it is final)"
            raise CommandRejected(
                f"meeting {meeting_id} cannot go from {meeting.status!r} to "
                f"{self.new_status!r}; allowed: {allowed}"
            )
        ctx.update(Meeting, meeting_id, status=self.new_status)
