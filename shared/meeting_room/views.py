"""The per-participant meeting view the front end reads live."""

from __future__ import annotations

from boiler import Children, Join, Many, Root, Sources, ViewModel, uid_in_path

from .domain import Location, Meeting, Ticket, User


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
