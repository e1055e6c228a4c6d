"""The meeting-room example: participants see who attends, live, in one document per meeting."""

from __future__ import annotations

from boiler import App

from .commands import AttendanceRequest, StatusRequest
from .domain import Location, Meeting, Ticket, User
from .views import Agenda, LocationBoard, MeetingCard, MeetingSession

app = App(
    "meeting_room",
    domain=[User, Location, Meeting, Ticket],
    views=[MeetingSession, MeetingCard, Agenda, LocationBoard],
    commands=[AttendanceRequest, StatusRequest],
)

__all__ = [
    "Agenda",
    "AttendanceRequest",
    "LocationBoard",
    "MeetingCard",
    "Location",
    "Meeting",
    "MeetingSession",
    "StatusRequest",
    "Ticket",
    "User",
    "app",
]
