"""The source of truth: users, locations, meetings and their tickets (README, "The meeting-room
example"), named exactly as the data contract stores them."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from boiler import DomainModel

MeetingStatus = Literal["not-started", "in-session", "closed"]


class User(DomainModel, path="users/{uid}"):
    first_name: str
    last_name: str
    organization: str
    hearing_aid_requested: bool = False


class Location(DomainModel, path="locations/{locationId}"):
    address: str
    latitude: float
    longitude: float


class Meeting(DomainModel, path="meetings/{meetingId}"):
    title: str
    location_id: str
    status: MeetingStatus = "not-started"
    participant_ids: list[str] = []
    starts_at: dt.datetime | None = None  # absent: not scheduled (listed after the scheduled)


class Ticket(DomainModel, path="meetings/{meetingId}/tickets/{uid}"):
    role: str = "participant"
    attendance: bool = False
