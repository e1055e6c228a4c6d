"""``/graphql``: the committed SDL (``graphql_schema``) served by Ariadne, resolvers bound by name.

Every resolver calls the HTTP API's ``Service`` on a worker thread, so access, validation and
the bodies are the HTTP API's own. Auth: ``Authorization: Bearer <Firebase ID token>`` over
HTTP; over ``graphql-transport-ws`` the ``connection_init`` payload ``{"Authorization":
"Bearer ..."}`` (or ``{"token": ...}``); a bad token closes the socket with 4403 (HTTP: 401).
A subscription is a ``Latest`` slot in the server's shared ``Watchers`` (one Firestore listener
per document, shared with ``/ws``); each version's access is decided again for its caller (a
view that becomes unreadable ends it with a 403 error) and its body, the HTTP API's, shaped
once for every subscriber (``shaping``). When the token's ``exp`` passes, the connection's
subscriptions end with a 401 error::

    app = graphql_app(live, graphql_api(build))   # mounted at /graphql by live_app
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from ariadne import (
    MutationType,
    QueryType,
    ScalarType,
    SubscriptionType,
    make_executable_schema,
)
from ariadne.asgi import GraphQL
from ariadne.asgi.handlers import GraphQLTransportWSHandler
from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLResolveInfo,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    parse,
    value_from_ast_untyped,
)
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketState

from ..api.caller import Caller, authenticate
from ..api.problems import ApiError, bad_request
from ..api.resources import CommandCollection, ViewCollection, ViewDocument
from ..api.service import DEFAULT_PAGE_SIZE
from ..graphql_schema import CommandField, GraphQLApi, ViewField
from ..paths import document_id_problem
from ..runtime import log
from .latest import Latest
from .shaping import body, readable
from .watchers import Version

if TYPE_CHECKING:
    from .app import Live

MAX_QUERY_CHARS = 16 * 1024  # a document of this size is far beyond any real client's
MAX_QUERY_TOKENS = 2000
MAX_ROOT_FIELDS = 10  # each root field is a Firestore read (or a command): aliases cost
CLOSE_FORBIDDEN, CLOSE_GOING_AWAY = 4403, 1001
CALLER, CONNECTION = "boiler.caller", "boiler.graphql"  # keys in the ASGI scope
EXPIRED = "the ID token expired: open a new connection with a fresh token, then subscribe again"
T = TypeVar("T")


def graphql_app(live: Live, api: GraphQLApi) -> GraphQL:
    """The ASGI app serving ``api.sdl`` with resolvers over ``live``'s Service and Watchers."""
    resolvers = _Resolvers(live)
    query, mutation, subscription = QueryType(), MutationType(), SubscriptionType()
    for view in api.views:
        query.set_field(view.name, resolvers.view(view))
        subscription.set_source(view.name, resolvers.subscribe(view))
        subscription.set_field(view.name, _itself)
        if view.page is not None:
            query.set_field(view.page, resolvers.page(view))
    for command in api.commands:
        mutation.set_field(command.name, resolvers.create(command))
    bindables: list[Any] = [query, DATE_TIME, JSON]
    bindables += [mutation] if api.commands else []
    bindables += [subscription] if api.views else []
    schema = make_executable_schema(api.sdl, *bindables)
    return _Authenticated(
        schema,
        context_value=_context,
        query_parser=_parse,
        validation_rules=[RootFieldLimit],
        websocket_handler=_TransportWS(live),
        logger=_ErrorLog(logging.getLogger("boiler.graphql"), {}),
    )


class _ErrorLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """Ariadne logs every error of a result at ERROR, with a traceback. A client's mistake
    (a syntax or validation error, a refusal below 500) is logged at INFO, in one line;
    only a server's failure (500, an unexpected exception) stays an ERROR."""

    def error(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        if isinstance(msg, GraphQLError) and msg.original_error is None:
            status = (msg.extensions or {}).get("status", 400)
            if isinstance(status, int) and status < 500:
                self.logger.info("graphql refusal: %s", msg.message)
                return
        super().error(msg, *args, **kwargs)


# -- scalars: values are the HTTP API's JSON already (datetimes as ISO 8601 strings)


def _iso(value: Any) -> str:
    if isinstance(value, str):
        return value
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    raise GraphQLError(f"DateTime: expected an ISO 8601 string, got {value!r}")


DATE_TIME = ScalarType("DateTime", serializer=_iso, value_parser=_iso)


def _as_is(value: Any) -> Any:
    return value


def _json_literal(node: Any, variables: dict[str, Any] | None = None) -> Any:
    return value_from_ast_untyped(node, variables)


JSON = ScalarType("JSON", serializer=_as_is, value_parser=_as_is, literal_parser=_json_literal)


def _itself(value: Any, info: GraphQLResolveInfo, **keys: Any) -> Any:
    return value


# -- who calls


@dataclass(eq=False)
class Connection:
    """One ``graphql-transport-ws`` connection: its caller, until the token's ``exp``."""

    websocket: WebSocket
    caller: Caller | None
    expired: asyncio.Event = field(default_factory=asyncio.Event)
    subscriptions: int = 0
    timer: asyncio.TimerHandle | None = None

    def current_caller(self) -> Caller | None:
        if self.expired.is_set():
            raise _refusal(401, EXPIRED, code="live-token-expired")
        return self.caller

    async def close(self, code: int, reason: str) -> None:
        if self.websocket.application_state != WebSocketState.DISCONNECTED:
            try:
                await self.websocket.close(code, reason)
            except (RuntimeError, OSError):  # the client is already gone
                pass


@dataclass(frozen=True)
class _Context:
    caller: Callable[[], Caller | None]
    connection: Connection | None


def _context(request: Any, data: Any) -> _Context:
    connection: Connection | None = request.scope.get(CONNECTION)
    if connection is not None:
        return _Context(connection.current_caller, connection)
    caller: Caller | None = request.scope.get(CALLER)
    return _Context(lambda: caller, None)


class _Authenticated(GraphQL):
    """Ariadne's app behind the token check: a bad ``Authorization`` header is a 401."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            header = Headers(scope=scope).get("authorization")
            try:
                caller = await asyncio.to_thread(authenticate, header)
            except ApiError as refused:
                body = {"errors": [_error(refused).formatted]}
                await JSONResponse(body, refused.status)(scope, receive, send)
                return
            scope = {**scope, CALLER: caller}
        await super().__call__(scope, receive, send)


class _TransportWS(GraphQLTransportWSHandler):
    """``graphql-transport-ws`` with boiler's sign-in, expiry and shutdown."""

    def __init__(self, live: Live) -> None:
        super().__init__()
        self.live = live

    async def handle_websocket(self, websocket: WebSocket) -> None:
        if self.live.watchers is None or self.live.stopping:
            await websocket.close(CLOSE_GOING_AWAY, "not serving")
            return
        try:
            await super().handle_websocket(websocket)
        finally:
            connection: Connection | None = websocket.scope.get(CONNECTION)
            if connection is not None:
                self.live.graphql_connections.discard(connection)
                if connection.timer is not None:
                    connection.timer.cancel()

    async def handle_websocket_connection_init_message(
        self, websocket: WebSocket, message: dict[str, Any], client_context: Any
    ) -> None:
        if client_context.connection_init_received:
            await websocket.close(4429, "too many connection_init messages")
            return
        client_context.connection_init_received = True
        payload = message.get("payload")
        payload = payload if isinstance(payload, dict) else {}
        header = payload.get("Authorization") or payload.get("authorization")
        if header is None and payload.get("token"):
            header = f"Bearer {payload['token']}"
        try:
            caller = await asyncio.to_thread(authenticate, header)
        except ApiError as refused:
            reason = f"{refused.status} {refused.code}: {refused.detail}"
            await websocket.close(CLOSE_FORBIDDEN, _truncate(reason))
            return
        connection = Connection(websocket, caller)
        if caller is not None:
            delay = float(caller.claims.get("exp", 0)) - self.live.limits.clock()
            loop = asyncio.get_running_loop()
            connection.timer = loop.call_later(max(0.0, delay), connection.expired.set)
        websocket.scope[CONNECTION] = connection
        self.live.graphql_connections.add(connection)
        await websocket.send_json({"type": self.GQL_CONNECTION_ACK})
        client_context.connection_acknowledged = True


def _truncate(reason: str, limit: int = 123) -> str:
    """A close reason fits in 123 bytes (RFC 6455)."""
    encoded = reason.encode()
    return reason if len(encoded) <= limit else encoded[: limit - 3].decode(errors="ignore") + "..."


# -- resolvers


class _Resolvers:
    def __init__(self, live: Live) -> None:
        self.live = live

    def view(self, field: ViewField) -> Callable[..., Any]:
        async def resolve(_: Any, info: GraphQLResolveInfo, **keys: str) -> Any:
            context: _Context = info.context
            resource = self._document(field, keys)
            try:
                return await _call(self.live.service.get_view, context.caller(), resource)
            except GraphQLError as refused:
                if (refused.extensions or {}).get("code") == "not-found":
                    return None  # allowed, not there (yet): null, as GraphQL clients expect
                raise

        return resolve

    def page(self, field: ViewField) -> Callable[..., Any]:
        async def resolve(
            _: Any,
            info: GraphQLResolveInfo,
            pageSize: int = DEFAULT_PAGE_SIZE,  # noqa: N803 (the GraphQL argument's name)
            pageToken: str | None = None,  # noqa: N803
            **keys: str,
        ) -> Any:
            context: _Context = info.context
            template = field.view.spec().template
            path = _path(template.segments[:-1], keys)
            resource = ViewCollection(field.view, path, keys)
            listed = await _call(
                self.live.service.list_views, context.caller(), resource, pageSize, pageToken
            )
            return listed.body()

        return resolve

    def create(self, field: CommandField) -> Callable[..., Any]:
        async def resolve(
            _: Any,
            info: GraphQLResolveInfo,
            input: dict[str, Any],  # noqa: A002 (the GraphQL argument's name)
            wait: float | None = None,
            **keys: str,
        ) -> Any:
            context: _Context = info.context
            template = field.command.spec().template
            resource = CommandCollection(field.command, _path(template.segments[:-1], keys), keys)
            return await _call(
                self.live.service.create_command, context.caller(), resource, input, wait or 0
            )

        return resolve

    def subscribe(self, field: ViewField) -> Callable[..., Any]:
        async def source(_: Any, info: GraphQLResolveInfo, **keys: str) -> AsyncIterator[Any]:
            context: _Context = info.context
            if context.connection is None:
                raise GraphQLError("subscriptions are served over graphql-transport-ws only")
            context.caller()  # 401 at once when the token has expired
            return self._versions(context.connection, self._document(field, keys))

        return source

    async def _versions(
        self, connection: Connection, resource: ViewDocument
    ) -> AsyncIterator[dict[str, Any] | None]:
        """Each version of the document, shaped (and its access decided) by the HTTP API."""
        limit = self.live.limits.max_subscriptions
        watchers = self.live.watchers
        if watchers is None:  # not reached: connections are refused before the lifespan
            raise _refusal(500, "the server is not serving yet", "internal")
        if connection.subscriptions >= limit:
            message = f"at most {limit} subscriptions per connection: complete one first"
            raise _refusal(400, message, code="live-too-many-subscriptions")
        try:  # refused before a listener opens when the caller and the path decide it
            self.live.service.refuse_early(connection.current_caller(), resource)
        except ApiError as refused:
            raise _error(refused) from None
        connection.subscriptions += 1
        slot = Latest[Version]()
        watchers.add(resource.path, slot)
        try:
            while True:
                version = await _next(slot, connection.expired)
                service = self.live.service
                with _as_graphql_errors("subscription"):  # the body is shared by subscribers
                    await readable(service, connection.current_caller(), resource, version)
                    shaped = await body(service, resource, version)
                yield shaped
        finally:
            connection.subscriptions -= 1
            watchers.remove(resource.path, slot)

    def _document(self, field: ViewField, keys: dict[str, str]) -> ViewDocument:
        template = field.view.spec().template
        return ViewDocument(field.view, _path(template.segments, keys), keys)


async def _next(slot: Latest[Version], expired: asyncio.Event) -> Version:
    """The slot's next version; a 401 error once the token has expired."""
    take = asyncio.ensure_future(slot.take())
    ended = asyncio.ensure_future(expired.wait())
    try:
        await asyncio.wait({take, ended}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        ended.cancel()
        if not take.done():
            take.cancel()
    if take.done() and not take.cancelled() and not expired.is_set():
        return take.result()
    raise _refusal(401, EXPIRED, code="live-token-expired")


def _path(segments: tuple[str, ...], keys: dict[str, str]) -> str:
    """The path with each ``{wildcard}`` replaced by its argument (a document id, or 400)."""
    parts = []
    for segment in segments:
        if segment.startswith("{"):
            value = keys[segment[1:-1]]
            problem = document_id_problem(value)
            if problem is not None:
                raise _error(
                    bad_request(f"{segment} must be a document id; {value!r} {problem}", "bad-id")
                )
            parts.append(value)
        else:
            parts.append(segment)
    return "/".join(parts)


async def _call(method: Callable[..., T], *args: Any) -> T:
    """``method`` on a worker thread; an ``ApiError`` becomes a GraphQL error."""
    with _as_graphql_errors(method.__name__):
        return await asyncio.to_thread(method, *args)


@contextlib.contextmanager
def _as_graphql_errors(what: str) -> Iterator[None]:
    """An ``ApiError`` raised inside becomes its GraphQL error; anything unexpected is logged
    and becomes a 500 (its details stay in the log)."""
    try:
        yield
    except ApiError as refused:
        raise _error(refused) from None
    except GraphQLError:
        raise
    except Exception as failure:  # e.g. Firestore unreachable
        log.error("graphql-resolver-failed", method=what, error=repr(failure))
        raise _error(ApiError(500, "internal error; it is logged", "internal")) from None


def _error(refused: ApiError) -> GraphQLError:
    """The GraphQL error of an API refusal: ``extensions`` carry its status and code."""
    error = _refusal(refused.status, refused.detail, refused.code)
    if refused.errors:
        error.extensions["errors"] = [problem.body() for problem in refused.errors]  # type: ignore[index]
    return error


def _refusal(status: int, message: str, code: str, node: Any = None) -> GraphQLError:
    """A GraphQL error whose ``extensions`` say what the HTTP API would: status and code."""
    return GraphQLError(message, node, extensions={"status": status, "code": code})


# -- cost


def _parse(context: Any, data: dict[str, Any]) -> DocumentNode:
    query = data.get("query")
    if isinstance(query, str) and len(query) > MAX_QUERY_CHARS:
        message = f"the query is {len(query)} characters; at most {MAX_QUERY_CHARS}: split it"
        raise _refusal(400, message, code="graphql-query-too-large")
    return parse(query, max_tokens=MAX_QUERY_TOKENS)  # type: ignore[arg-type]


class RootFieldLimit(ASTValidationRule):
    """At most ``MAX_ROOT_FIELDS`` root fields per operation (aliases and fragments count):
    the schema has no cycles, so depth is bounded by the models; breadth is not."""

    def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
        count = self._count(node.selection_set, set())
        if count > MAX_ROOT_FIELDS:
            message = (
                f"an operation has at most {MAX_ROOT_FIELDS} root fields (aliases count), this "
                f"one {count}: split it"
            )
            self.report_error(_refusal(400, message, code="graphql-too-many-fields", node=node))

    def _count(self, selection_set: SelectionSetNode, seen: set[str]) -> int:
        context: ValidationContext = self.context  # type: ignore[assignment]
        count = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                count += 1
            elif isinstance(selection, InlineFragmentNode):
                count += self._count(selection.selection_set, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = context.get_fragment(name)
                if fragment is not None and name not in seen:
                    count += self._count(fragment.selection_set, seen | {name})
        return count
