"""One WebSocket connection: its caller, its subscriptions, and the rules of the protocol.

The decisions (docs/live.md, "Protocol"): ``auth`` must come first (anything else before it
gets a 401 error; no ``auth`` within ``auth_timeout`` closes with 1008); a bad token is a 401
error and the client may try again; a malformed message is a 400 error and the connection
stays open, but bytes that are not JSON at all close it (1007) and a message over the size
cap closes it (1009); a duplicate id, an unknown id and one subscription over the cap are 400
errors. When the token's ``exp`` passes without a fresh ``auth``, every subscription ends with
a 401 error.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from ..api.caller import Caller, authenticate
from ..api.problems import ApiError
from ..api.resources import Resources, ViewDocument
from ..api.service import Service
from ..runtime import log
from . import protocol
from .latest import Latest
from .protocol import Auth, ProtocolError, Subscribe, Unsubscribe
from .shaping import body_json, readable
from .watchers import Version, Watchers

CLOSE_NOT_JSON, CLOSE_POLICY, CLOSE_TOO_BIG = 1007, 1008, 1009


@dataclass(frozen=True, kw_only=True)
class Limits:
    """What one connection may do; ``clock`` is the time the token's ``exp`` is compared to."""

    max_subscriptions: int = 100
    max_message_bytes: int = protocol.MAX_MESSAGE_BYTES
    auth_timeout: float = 30.0
    clock: Callable[[], float] = time.time


@dataclass
class _Subscription:
    id: str
    resource: ViewDocument
    slot: Latest[Version] = field(default_factory=Latest)
    sender: asyncio.Task[None] | None = None


class Session:
    """Serves one accepted WebSocket until the client or the server closes it."""

    def __init__(
        self,
        websocket: WebSocket,
        *,
        resources: Resources,
        service: Service,
        watchers: Watchers,
        limits: Limits,
    ) -> None:
        self.websocket = websocket
        self.resources = resources
        self.service = service
        self.watchers = watchers
        self.limits = limits
        self.caller: Caller | None = None
        self.subscriptions: dict[str, _Subscription] = {}
        self._send_lock = asyncio.Lock()
        self._expiry: asyncio.TimerHandle | None = None
        self._closed = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        """Read messages until the connection ends; then end every subscription."""
        deadline = asyncio.get_running_loop().time() + self.limits.auth_timeout
        try:
            while not self._closed:
                left = max(0.0, deadline - asyncio.get_running_loop().time())
                try:
                    text = await asyncio.wait_for(self._receive(), None if self.caller else left)
                except TimeoutError:
                    await self.close(CLOSE_POLICY, "no auth message in time")
                    return
                if text is None:
                    return
                await self._handle(text)
        finally:
            self._closed = True
            self._end_all()
            if self._expiry is not None:
                self._expiry.cancel()

    async def close(self, code: int, reason: str) -> None:
        """End every subscription and close the socket with ``code`` (1001: going away)."""
        if self._closed:
            return
        self._closed = True
        self._end_all()
        async with self._send_lock:
            try:
                await self.websocket.close(code, reason)
            except (RuntimeError, OSError):  # the client is already gone
                pass

    async def _receive(self) -> str | bytes | None:
        message = await self.websocket.receive()
        if message["type"] == "websocket.disconnect":
            self._closed = True
            return None
        text: str | bytes = message.get("text") or message.get("bytes") or b""
        return text

    async def _handle(self, text: str | bytes) -> None:
        size = len(text.encode() if isinstance(text, str) else text)
        if size > self.limits.max_message_bytes:
            limit = self.limits.max_message_bytes
            await self.close(CLOSE_TOO_BIG, f"a message is at most {limit} bytes")
            return
        try:
            message = protocol.parse(text)
        except ProtocolError as refused:
            if refused.fatal:
                await self.close(CLOSE_NOT_JSON, refused.message)
            else:
                await self._send(protocol.error(refused.id, 400, refused.message, refused.code))
            return
        if isinstance(message, Auth):
            await self._auth(message)
        elif self.caller is None:
            await self._send(
                protocol.error(message.id, 401, "send {type: auth, token} first", "unauthenticated")
            )
        elif isinstance(message, Subscribe):
            await self._subscribe(message)
        elif isinstance(message, Unsubscribe):
            await self._unsubscribe(message)

    async def _auth(self, message: Auth) -> None:
        try:
            caller = await asyncio.to_thread(authenticate, f"Bearer {message.token}")
        except ApiError as refused:
            await self._send(protocol.error(None, refused.status, refused.detail, refused.code))
            return
        if caller is None:  # not reachable: the header always holds a token
            return
        if self.caller is not None and caller.uid != self.caller.uid:
            await self._send(
                protocol.error(
                    None,
                    400,
                    f"this connection is {self.caller.uid}'s: open another one for {caller.uid}",
                    code="live-user-changed",
                )
            )
            return
        self.caller = caller
        self._expire_at(float(caller.claims.get("exp", 0)))

    def _expire_at(self, expires: float) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
        delay = max(0.0, expires - self.limits.clock())
        self._expiry = asyncio.get_running_loop().call_later(delay, self._on_expired)

    def _on_expired(self) -> None:
        self.caller = None
        ended = list(self.subscriptions)
        self._end_all()
        message = "the ID token expired: send auth with a fresh token, then subscribe again"

        async def tell() -> None:
            for subscription in ended:
                await self._send(
                    protocol.error(subscription, 401, message, code="live-token-expired")
                )

        if ended:
            self._background(tell())

    async def _subscribe(self, message: Subscribe) -> None:
        if message.id in self.subscriptions:
            await self._refuse(message.id, 400, "this id is in use", code="live-duplicate-id")
            return
        if len(self.subscriptions) >= self.limits.max_subscriptions:
            limit = self.limits.max_subscriptions
            await self._refuse(
                message.id,
                400,
                f"at most {limit} subscriptions per connection: unsubscribe one first",
                code="live-too-many-subscriptions",
            )
            return
        try:
            resource = self.resources.resolve(message.path)
        except ApiError as refused:
            await self._refuse(message.id, refused.status, refused.detail, refused.code)
            return
        if not isinstance(resource, ViewDocument):
            await self._refuse(
                message.id,
                404,
                f"{message.path!r} is not a view document: subscribe to one document of a "
                "view clients may read",
                "not-found",
            )
            return
        try:
            self.service.refuse_early(self.caller, resource)
        except ApiError as refused:
            await self._refuse(message.id, refused.status, refused.detail, refused.code)
            return
        subscription = _Subscription(message.id, resource)
        self.subscriptions[message.id] = subscription
        self.watchers.add(resource.path, subscription.slot)
        subscription.sender = asyncio.create_task(self._deliver(subscription))

    async def _unsubscribe(self, message: Unsubscribe) -> None:
        if message.id not in self.subscriptions:
            await self._refuse(
                message.id, 400, "no subscription has this id", code="live-unknown-id"
            )
            return
        self._end(message.id)

    async def _deliver(self, subscription: _Subscription) -> None:
        """Send each version the slot holds: access decided and body shaped by the HTTP API."""
        resource = subscription.resource
        while True:
            version = await subscription.slot.take()
            try:
                await readable(self.service, self.caller, resource, version)
                body = await body_json(self.service, resource, version)
            except ApiError as refused:
                self._end(subscription.id)
                await self._refuse(subscription.id, refused.status, refused.detail, refused.code)
                return
            except Exception as failure:  # e.g. Firestore unreachable for an access lookup
                log.error("live-delivery-failed", path=version.path, error=repr(failure))
                self._end(subscription.id)
                await self._refuse(subscription.id, 500, "internal error; it is logged", "internal")
                return
            if self.subscriptions.get(subscription.id) is not subscription:
                return  # ended while its access was being decided
            await self._send_text(protocol.snapshot_text(subscription.id, body))

    async def _refuse(self, subscription: str, status: int, message: str, code: str) -> None:
        await self._send(protocol.error(subscription, status, message, code))

    async def _send(self, message: dict[str, Any]) -> None:
        await self._send_text(json.dumps(message, separators=(",", ":"), ensure_ascii=False))

    async def _send_text(self, text: str) -> None:
        async with self._send_lock:
            if self._closed:
                return
            try:
                await self.websocket.send_text(text)
            except (WebSocketDisconnect, RuntimeError, OSError) as failure:
                log.info("live-send-failed", error=repr(failure))
                self._closed = True  # the client left; run() ends on its disconnect

    def _end(self, subscription_id: str) -> None:
        subscription = self.subscriptions.pop(subscription_id, None)
        if subscription is None:
            return
        self.watchers.remove(subscription.resource.path, subscription.slot)
        current = asyncio.current_task()
        if subscription.sender is not None and subscription.sender is not current:
            subscription.sender.cancel()

    def _end_all(self) -> None:
        for subscription_id in list(self.subscriptions):
            self._end(subscription_id)

    def _background(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)  # held: the loop keeps only weak references to tasks
        task.add_done_callback(self._tasks.discard)
