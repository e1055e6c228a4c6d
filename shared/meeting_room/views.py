"""The per-participant meeting view the front end reads live."""

from __future__ import annotations

import datetime as dt

from boiler import (
    KEY,
    Children,
    Count,
    Join,
    Many,
    Query,
    Root,
    Sources,
    Sum,
    Top,
    ViewModel,
    signed_in,
    uid_in_path,
)

from .domain import Location, Meeting, MeetingStatus, Ticket, User


class MeetingData(Sources):
    meeting: Meeting = Root(Meeting)
    location: Location | None = Join(Location, on="location_id")
    tickets: dict[str, Ticket] = Children(Ticket)
    participants: dict[str, User] = Many(User, ids="participant_ids")


class Attendee(ViewModel):
    uid: str
    name: str
    organization: str
    hearing_aid_requested: bool


class MeetingSession(
    ViewModel,
    path="users/{uid}/meetingSessions/{meetingId}",
    sources=MeetingData,
    readable_by=uid_in_path("uid"),
):
    meeting_id: str
    title: str
    address: str | None
    latitude: float | None
    longitude: float | None
    in_session: bool
    attending: list[Attendee]
    num_attending: int
    num_hearing_aid_requested: int

    @classmethod
    def build(cls, data: MeetingData) -> dict[str, MeetingSession]:
        """One identical view per participant; ``attending`` lists present participants by uid."""
        meeting, location = data.meeting, data.location
        attending = [
            Attendee(
                uid=uid,
                name=f"{user.first_name} {user.last_name}",
                organization=user.organization,
                hearing_aid_requested=user.hearing_aid_requested,
            )
            for uid, user in sorted(data.participants.items())
            if (ticket := data.tickets.get(uid)) is not None and ticket.attendance
        ]
        view = cls(
            meeting_id=data.key,
            title=meeting.title,
            address=location.address if location else None,
            latitude=location.latitude if location else None,
            longitude=location.longitude if location else None,
            in_session=meeting.status == "in-session",
            attending=attending,
            num_attending=len(attending),
            num_hearing_aid_requested=sum(a.hearing_aid_requested for a in attending),
        )
        return {uid: view for uid in meeting.participant_ids}


# -- second part: lists and counts across meetings (DESIGN.md) ------------------------------
class MeetingCardData(Sources):
    meeting: Meeting = Root(Meeting)
    location: Location | None = Join(Location, on="location_id")
    tickets: dict[str, Ticket] = Children(Ticket)


class MeetingCard(ViewModel, path="meetingCards/{meetingId}", sources=MeetingCardData):
    """One meeting with its location's address and attendance count: what the agendas and
    the location boards list and add up. Internal (no readable_by): clients read those."""

    meeting_id: str
    title: str
    status: MeetingStatus
    starts_at: dt.datetime | None
    location_id: str
    address: str | None
    participant_ids: list[str]
    num_attending: int

    @classmethod
    def build(cls, data: MeetingCardData) -> MeetingCard:
        meeting = data.meeting
        return cls(
            meeting_id=data.key,
            title=meeting.title,
            status=meeting.status,
            starts_at=meeting.starts_at,
            location_id=meeting.location_id,
            address=data.location.address if data.location else None,
            participant_ids=meeting.participant_ids,
            num_attending=sum(ticket.attendance for ticket in data.tickets.values()),
        )


AGENDA_SIZE = 50
BY_START = ("starts_at",)  # startsAt ascending, unscheduled last, ties by meeting id
upcoming = (
    Query(MeetingCard)
    .where("participant_ids", "array-contains", KEY)
    .where("status", "!=", "closed")
)


class AgendaData(Sources):
    user: User = Root(User)
    meetings: dict[str, MeetingCard] = Top(
        upcoming,
        AGENDA_SIZE,
        by=BY_START,
        fields=("meeting_id", "title", "status", "starts_at", "address"),
    )
    num_upcoming: int = Count(upcoming)


class AgendaEntry(ViewModel):
    meeting_id: str
    title: str
    status: MeetingStatus
    starts_at: dt.datetime | None
    address: str | None


class Agenda(ViewModel, path="agendas/{uid}", sources=AgendaData, readable_by=uid_in_path("uid")):
    """A user's next meetings (not closed), by start; each opens its live meeting view."""

    uid: str
    meetings: list[AgendaEntry]
    num_upcoming: int

    @classmethod
    def build(cls, data: AgendaData) -> Agenda:
        return cls(
            uid=data.key,
            meetings=[
                AgendaEntry(
                    meeting_id=card.meeting_id,
                    title=card.title,
                    status=card.status,
                    starts_at=card.starts_at,
                    address=card.address,
                )
                for card in data.meetings.values()
            ],
            num_upcoming=data.num_upcoming,
        )


BOARD_NEXT = 3
at_location = Query(MeetingCard).where("location_id", "==", KEY)
in_session = at_location.where("status", "==", "in-session")


class LocationBoardData(Sources):
    location: Location = Root(Location)
    meetings_total: int = Count(at_location)
    meetings_in_session: int = Count(in_session)
    attending_in_session: int = Sum(in_session, "num_attending")
    next: dict[str, MeetingCard] = Top(
        at_location.where("status", "==", "not-started"),
        BOARD_NEXT,
        by=BY_START,
        fields=("meeting_id", "title", "starts_at"),
    )


class BoardEntry(ViewModel):
    meeting_id: str
    title: str
    starts_at: dt.datetime | None


class LocationBoard(
    ViewModel,
    path="locationBoards/{locationId}",
    sources=LocationBoardData,
    readable_by=signed_in(),
):
    """What is happening at a location: counts, attendance in session, the next meetings."""

    location_id: str
    address: str
    meetings_total: int
    meetings_in_session: int
    attending_in_session: int
    next: list[BoardEntry]

    @classmethod
    def build(cls, data: LocationBoardData) -> LocationBoard:
        return cls(
            location_id=data.key,
            address=data.location.address,
            meetings_total=data.meetings_total,
            meetings_in_session=data.meetings_in_session,
            attending_in_session=data.attending_in_session,
            next=[
                BoardEntry(meeting_id=card.meeting_id, title=card.title, starts_at=card.starts_at)
                for card in data.next.values()
            ],
        )
