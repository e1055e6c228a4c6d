"""A watched version, as each subscriber receives it: the access decision per caller, the
body once per version for all of them (``/ws`` and GraphQL alike).

A document with 1,000 subscribers costs one validation and one JSON encoding per version, not
1,000: the body is computed on a worker thread the first time a subscriber asks, kept on the
``Version``, and awaited by the others (shielded: one subscriber leaving does not cancel it
for the rest). The access decision is the caller's own; it runs on the event loop when the
declaration reads no other document, on a thread when it does::

    await readable(service, caller, resource, version)      # ApiError 401/403 if not
    text = await body_json(service, resource, version)       # e.g. '{"title": "Kickoff"}'
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from ..api.caller import Caller
from ..api.resources import ViewDocument
from ..api.service import Service
from .watchers import Version


async def readable(
    service: Service, caller: Caller | None, resource: ViewDocument, version: Version
) -> None:
    """Return when ``caller`` may read this version of the view; else raise its ApiError."""
    if service.reads_to_decide(resource):
        await asyncio.to_thread(service.require_read, caller, resource, version.data)
    else:
        service.require_read(caller, resource, version.data)


async def body_json(service: Service, resource: ViewDocument, version: Version) -> str:
    """The version's body as the HTTP API's JSON text ("null": no document)."""
    shared = version.bodies.get((resource.view, "json"))
    if shared is None:
        shared = asyncio.ensure_future(asyncio.to_thread(service.view_json, resource, version.data))
        version.bodies[(resource.view, "json")] = shared
    text: str = await asyncio.shield(shared)
    return text


async def body(service: Service, resource: ViewDocument, version: Version) -> Any:
    """The version's body as JSON values (None: no document), shared read-only by every
    subscriber: decoded once from ``body_json``."""
    shared = version.bodies.get((resource.view, "value"))
    if shared is None:
        shared = asyncio.ensure_future(_decoded(service, resource, version))
        version.bodies[(resource.view, "value")] = shared
    return await asyncio.shield(shared)


async def _decoded(service: Service, resource: ViewDocument, version: Version) -> Any:
    return json.loads(await body_json(service, resource, version))
