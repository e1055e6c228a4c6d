"""The meeting-room example: participants see who attends, live, in one document per meeting."""

from __future__ import annotations

from boiler import App

from .commands import AttendanceRequest, StatusRequest
from .domain import Location, Meeting, Ticket, User
from .views import MeetingSession

app = App(
    "meeting_room",
    domain=[User, Location, Meeting, Ticket],
    views=[MeetingSession],
    commands=[AttendanceRequest, StatusRequest],
)

__all__ = [
    "AttendanceRequest",
    "Location",
    "Meeting",
    "MeetingSession",
    "StatusRequest",
    "Ticket",
    "User",
    "app",
]
