"""Commands: the documents a client writes to ask for a change (the write path).

A command is created by a client (the generated rules check who and what shape), then a
trigger validates it, runs ``apply`` in a transaction and marks it ``applied`` or ``rejected``::

    class AttendanceRequest(
        Command,
        path="users/{uid}/attendanceRequests/{requestId}",
        creatable_by=uid_in_path("uid"),
    ):
        meeting_id: str = Field(max_length=128)
        attendance: bool

        def apply(self, ctx: CommandContext) -> None:
            ticket = ctx.get(Ticket, self.meeting_id, ctx.uid)
            if ticket is None:
                raise CommandRejected("you have no ticket for this meeting")
            ctx.update(Ticket, self.meeting_id, ctx.uid, attendance=self.attendance)

With ``orders_on=("uid", "meeting_id")`` (path wildcards and/or field names naming what the
command changes), commands for one target apply in the order they were created: one
delivered after a newer one was applied is marked ``superseded`` and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import ConfigDict

from .access import (
    Access,
    UidInField,
    UidInPath,
    check_access,
    check_wildcards_for_rules,
    uid_in_field,
    uid_in_path,
)
from .documents import Document, declared
from .errors import DeclarationError
from .paths import PathTemplate

if TYPE_CHECKING:
    from .runtime.command_runner import CommandContext

# Fields boiler writes on a processed command; clients may neither write nor declare them.
STATUS, REASON, PROCESSED_AT = "status", "reason", "processedAt"
SUPERSEDED_BY = "supersededBy"  # the id of the newer command that made this one moot
RESERVED_FIELDS = (STATUS, REASON, PROCESSED_AT, SUPERSEDED_BY)
# Final outcomes: applied, rejected (by apply or validation), superseded (see orders_on).
APPLIED, REJECTED, SUPERSEDED = "applied", "rejected", "superseded"


@dataclass(frozen=True)
class CommandSpec:
    """What a ``Command`` declaration recorded."""

    name: str
    template: PathTemplate
    creatable_by: Access
    readable_by: Access
    caller: UidInPath | UidInField | None  # how the trigger learns who created the command
    orders_on: tuple[str, ...] = ()  # path wildcards / field names naming the target; () = none

    def caller_uid(self, params: dict[str, str], data: dict[str, Any]) -> str | None:
        if isinstance(self.caller, UidInPath):
            return params.get(self.caller.wildcard)
        if isinstance(self.caller, UidInField):
            value = data.get(self.caller.field)
            return value if isinstance(value, str) else None
        return None


class Command(Document):
    """A client-written request, validated strictly and applied once by boiler.

    Class keywords: ``path=`` (where clients create it), ``creatable_by=`` (an ``Access``;
    it should pin the caller with ``uid_in_path`` or ``uid_in_field``), optionally
    ``readable_by=`` (default: the caller, so a client can watch ``status``/``reason``),
    ``orders_on=`` (names of path wildcards or fields identifying what the command changes:
    its commands then apply in creation order, late older ones are ``superseded``).
    """

    # A client sending a field we do not know is a bug or an attack: refuse it.
    model_config = ConfigDict(extra="forbid")

    __command_spec__: ClassVar[CommandSpec]

    def __init_subclass__(
        cls,
        *,
        path: str | None = None,
        creatable_by: Access | None = None,
        readable_by: Access | None = None,
        orders_on: str | tuple[str, ...] | list[str] = (),
        **kwargs: Any,
    ) -> None:
        super().__init_subclass__(path=path, **kwargs)
        if path is None and creatable_by is None:
            return  # an abstract intermediate base
        if path is None or creatable_by is None:
            raise DeclarationError(
                f"{cls.__name__}: a command needs path= and creatable_by=, e.g. "
                f'`class {cls.__name__}(Command, path="users/{{uid}}/requests/{{requestId}}", '
                f'creatable_by=uid_in_path("uid"))`',
                code="command-path-or-access-missing",
            )
        if not isinstance(creatable_by, Access) or not creatable_by.alternatives:
            raise DeclarationError(
                f"{cls.__name__}: creatable_by= must be a non-empty Access, got {creatable_by!r}",
                code="command-access-empty",
            )
        template = cls.__path_template__
        if template.id_wildcard is None:
            raise DeclarationError(
                f"{cls.__name__}: path {template} must end in an {{id}} wildcard "
                "(one document per request)",
                code="command-path-no-id",
            )
        check_wildcards_for_rules(cls, template)
        if readable_by is not None and not isinstance(readable_by, Access):
            raise DeclarationError(
                f"{cls.__name__}: readable_by= must be an Access, got {readable_by!r}",
                code="access-not-access",
            )
        callers = _callers(creatable_by)
        cls.__command_spec__ = CommandSpec(
            name=cls.__name__,
            template=template,
            creatable_by=creatable_by,
            readable_by=readable_by or _caller_access(callers),
            caller=callers[0] if len(set(callers)) == 1 else None,
            orders_on=(orders_on,) if isinstance(orders_on, str) else tuple(orders_on),
        )

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        # Field checks need pydantic's fields, which exist only after the class is built.
        super().__pydantic_init_subclass__(**kwargs)
        spec = cls.__dict__.get("__command_spec__")
        if spec is None:
            return
        for name, info in cls.model_fields.items():
            if (info.alias or name) in RESERVED_FIELDS:
                raise DeclarationError(
                    f"{cls.__name__}.{name}: {info.alias or name!r} is written by boiler when the "
                    f"command is processed; rename the field (reserved: {list(RESERVED_FIELDS)})",
                    code="command-reserved-field",
                )
        for access in (spec.creatable_by, spec.readable_by):
            check_access(cls, access, spec.template)
        _check_orders_on(cls, spec)

    def apply(self, ctx: CommandContext) -> None:
        """Make the change (override): read with ``ctx.get``, write with ``ctx.set/update/delete``.

        Raise ``CommandRejected(reason)`` to refuse; nothing written through ``ctx`` is kept.
        """
        raise DeclarationError(
            f"{type(self).__name__} must define `def apply(self, ctx)`",
            code="command-apply-missing",
        )

    @classmethod
    def spec(cls) -> CommandSpec:
        message = "{name} is not a declared command (no path=/creatable_by=)"
        return declared(cls, "__command_spec__", message, code="command-not-declared")  # type: ignore[no-any-return]


# pydantic evaluates its bases' annotations again for each subclass; a string costs a compile.
Command.__annotations__["__command_spec__"] = ClassVar[CommandSpec]


def order_choices(command: type[Command], template: PathTemplate) -> list[str]:
    """What ``orders_on`` may name: path wildcards (not the request id) and field names."""
    wildcards = [w for w in template.wildcards if w != template.id_wildcard]
    return [*wildcards, *command.model_fields]


def _check_orders_on(command: type[Command], spec: CommandSpec) -> None:
    choices = order_choices(command, spec.template)
    for name in spec.orders_on:
        if name not in choices:
            raise DeclarationError(
                f"{command.__name__}: orders_on names {name!r}, which is neither a path wildcard "
                f"of {spec.template} nor a field; choose from {choices}",
                code="orders-on-unknown-name",
            )
    if len(set(spec.orders_on)) != len(spec.orders_on):
        raise DeclarationError(
            f"{command.__name__}: orders_on repeats a name: {spec.orders_on}",
            code="orders-on-repeated",
        )


def _callers(access: Access) -> list[UidInPath | UidInField]:
    """The uid-pinning condition of each alternative (an alternative without one pins nobody)."""
    found: list[UidInPath | UidInField] = []
    for alternative in access.alternatives:
        pins = [c for c in alternative if isinstance(c, UidInPath | UidInField)]
        if pins:
            found.append(pins[0])
    return found


def _caller_access(callers: list[UidInPath | UidInField]) -> Access:
    """Default read access of a command: whoever created it."""
    result = Access()
    for caller in dict.fromkeys(callers):
        result = result | (
            uid_in_path(caller.wildcard)
            if isinstance(caller, UidInPath)
            else uid_in_field(caller.field)
        )
    return result
