"""Real Firestore CloudEvents, built the way the Firestore emulator and Eventarc send them.

A document write becomes a binary-mode ``cloudevents.http.CloudEvent`` whose data is a
serialized ``google.events.cloud.firestore.DocumentEventData`` (protobuf; JSON data crashes
firebase-functions 0.6.0). Deliver it to a decorated function in-process, or POST it to the
functions emulator to replay an event with a fixed id::

    event = document_written_event("meetings/m1/tickets/u1", None, {"attendance": True})
    deliver(main.meeting_session_on_ticket, event)   # in-process
    deliver(main.meeting_session_on_ticket, event)   # a duplicate: same id, applied once
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from cloudevents.http import CloudEvent
from google.cloud.firestore_v1 import _helpers as firestore_helpers
from google.cloud.firestore_v1.types import document as firestore_document
from google.events.cloud import firestore as firestore_events
from google.protobuf import timestamp_pb2

WRITTEN = "google.cloud.firestore.document.v1.written"
DEFAULT_PROJECT = "demo-boiler"
DEFAULT_LOCATION = "us-central1"
DEFAULT_DATABASE = "(default)"


def _project(project: str | None) -> str:
    return (
        project
        or os.environ.get("GCLOUD_PROJECT")
        or os.environ.get("GOOGLE_CLOUD_PROJECT")
        or DEFAULT_PROJECT
    )


def _timestamp(moment: dt.datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment.astimezone(dt.UTC).replace(tzinfo=None))
    return stamp


def encode_document(
    name: str,
    fields: Mapping[str, Any],
    create_time: dt.datetime,
    update_time: dt.datetime,
) -> firestore_events.Document:
    """A ``google.events`` Document with ``fields`` encoded as the Firestore client encodes them."""
    encoded = firestore_helpers.encode_dict(dict(fields))
    # Same wire format (google.firestore.v1.Document): encode as the client, re-read as events.
    client_doc = firestore_document.Document(
        name=name,
        fields=encoded,
        create_time=_timestamp(create_time),
        update_time=_timestamp(update_time),
    )
    return firestore_events.Document.deserialize(firestore_document.Document.serialize(client_doc))


def document_written_event(
    document_path: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    event_id: str | None = None,
    project: str | None = None,
    location: str = DEFAULT_LOCATION,
    database: str = DEFAULT_DATABASE,
    time: dt.datetime | None = None,
) -> CloudEvent:
    """A ``document.v1.written`` CloudEvent: ``document_path`` went from ``before`` to ``after``.

    ``None`` means the document does not exist (``before=None``: create; ``after=None``: delete).
    """
    project = _project(project)
    moment = time or dt.datetime.now(dt.UTC)
    name = f"projects/{project}/databases/{database}/documents/{document_path}"
    data = firestore_events.DocumentEventData()
    if after is not None:
        data.value = encode_document(name, after, moment, moment)
    if before is not None:
        data.old_value = encode_document(name, before, moment, moment)
    attributes = {
        "specversion": "1.0",
        "id": event_id or uuid.uuid4().hex,
        "source": f"//firestore.googleapis.com/projects/{project}/databases/{database}",
        "type": WRITTEN,
        "time": moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/protobuf",
        "subject": f"documents/{document_path}",
        "project": project,
        "location": location,
        "database": database,
        "namespace": "(default)",
        "document": document_path,
    }
    return CloudEvent(attributes, firestore_events.DocumentEventData.serialize(data))


def deliver(function: Callable[[CloudEvent], Any], event: CloudEvent) -> Any:
    """Call a decorated firebase-functions handler in-process, as functions-framework would."""
    return function(event)


def binary_headers(event: CloudEvent) -> dict[str, str]:
    """The ``ce-*`` headers of a binary-mode HTTP delivery of ``event``."""
    headers = {"content-type": event["datacontenttype"]}
    for name, value in event.get_attributes().items():
        if name != "datacontenttype":
            headers[f"ce-{name}"] = str(value)
    return headers


def post_to_emulator(
    functions_url: str,
    project: str,
    region: str,
    function_name: str,
    event: CloudEvent,
    timeout: float = 30.0,
) -> int:
    """POST ``event`` to the functions emulator's trigger endpoint; returns the HTTP status.

    The emulator base64-decodes ``application/protobuf`` bodies before handing them to the
    Python worker (firebase-tools functionsEmulator.js), so the body is base64 text.
    """
    base = functions_url.rstrip("/")
    url = f"{base}/functions/projects/{project}/triggers/{region}-{function_name}-0"
    data = event.get_data()
    if not isinstance(data, bytes):
        raise TypeError("post_to_emulator needs a protobuf event (document_written_event)")
    body = base64.b64encode(data)
    request = urllib.request.Request(url, data=body, headers=binary_headers(event), method="POST")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        response.read()
        return response.status
