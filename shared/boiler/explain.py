"""``boiler explain VIEW``: one view model of a compiled app, described in plain text.

What feeds the view, which functions keep it in step and how each finds the views a change
affects, who may read it, and which views read it. Pure and deterministic: the sources and
queries describe their own mechanism (``describe``, ``describe_affected`` next to
``affected``/``keys_of``), the rules condition is the one ``generate_rules`` writes, and the
list decision is the HTTP API's (``access_evaluator.may_list``).

>>> print(explain(compile_app(app), "Agenda"))
Agenda: an aggregate view (kept from each member's change), version 1
  path     agendas/{uid}
...
"""

from __future__ import annotations

import textwrap
import types
import typing
from collections.abc import Iterable
from typing import Any

from .access import (
    Anyone,
    AuthUid,
    Claim,
    Condition,
    FieldValue,
    PathParam,
    SignedIn,
    UidInField,
    UidInPath,
    firestore_field,
)
from .access_evaluator import holds_for_every_document  # may_list's own test
from .aggregates import Query
from .compiler import Build, TriggerSpec
from .rules import render_access
from .runtime import bookkeeping
from .runtime.tallies import MEMBERS, TALLIES, is_tally_view
from .views import ViewModel

WIDTH = 100  # lines are wrapped at this width, except the rules condition (copied as it is)


def explain(build: Build, view_name: str) -> str:
    """Describe the view model ``view_name`` of ``build``, for a terminal; ends in a newline.

    An unknown name raises ``BoilerError`` (code ``unknown-view``) listing the app's views.

    >>> "meeting_session_on_ticket" in explain(compile_app(app), "MeetingSession")
    True
    """
    view = build.view(view_name)
    triggers = [trigger for trigger in build.triggers if trigger.view is view]
    sections = [
        _view(view),
        _sources(view),
        _functions(view, triggers),
        _readers(view),
        _dependencies(view, triggers, build.triggers),
    ]
    return "\n\n".join("\n".join(lines) for lines in sections) + "\n"


def _wrap(prefix: str, text: str, indent: int | None = None) -> list[str]:
    """``prefix + text`` wrapped at WIDTH, continued under the text (or at ``indent``)."""
    return textwrap.wrap(
        text,
        WIDTH,
        initial_indent=prefix,
        subsequent_indent=" " * (len(prefix) if indent is None else indent),
        break_long_words=False,
        break_on_hyphens=False,  # 'array-contains', 'not-started' stay whole
    )


# -- the view ---------------------------------------------------------------------------------
def _view(view: type[ViewModel]) -> list[str]:
    spec = view.spec()
    root = spec.sources.__root__
    if not is_tally_view(view):
        kind = "a record view (built whole from one record per key)"
    elif root is None:
        kind = "an aggregate view grouped by its query (kept from each member's change)"
    else:
        kind = "an aggregate view (kept from each member's change)"
    if root is not None:
        key = f"the id of its root, one aggregate per {root.model.__name__} document"
    else:
        key = "a value its queries' documents name; a view exists while one counts in it"
    lines = [
        f"{spec.name}: {kind}, version {spec.version}",
        f"  path     {spec.template}",
        *_wrap("  key      ", f"{{{spec.key_wildcard}}}: {key}"),
    ]
    if spec.fan_out_wildcard is not None:
        fan_out = spec.fan_out_wildcard
        text = f"{{{fan_out}}}: build() returns {{{fan_out}: view}}, one document per value"
        lines += _wrap("  fan-out  ", text)
    lines.append("  fields (as stored)")
    fields = [
        (info.alias or name, _type_name(info.annotation))
        for name, info in view.model_fields.items()
    ]
    width = max((len(name) for name, _ in fields), default=0)
    lines += [f"    {name.ljust(width)}  {type_name}" for name, type_name in fields]
    return lines


def _type_name(annotation: Any) -> str:
    """``list[Attendee]``, ``str | None``: a type as declared, without module prefixes."""
    if annotation is type(None):
        return "None"
    origin, arguments = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(argument) for argument in arguments)
    if origin is typing.Literal:
        return f"Literal[{', '.join(repr(argument) for argument in arguments)}]"
    if origin is typing.Annotated:
        return _type_name(arguments[0])
    if origin is not None:
        inner = ", ".join(_type_name(argument) for argument in arguments)
        return f"{getattr(origin, '__name__', str(origin))}[{inner}]"
    return getattr(annotation, "__name__", str(annotation))


# -- what feeds it ----------------------------------------------------------------------------
def _sources(view: type[ViewModel]) -> list[str]:
    sources = view.spec().sources
    declared = [
        (name, spec.describe(), spec.template) for name, spec in sources.__sources__.items()
    ]
    declared += [
        (name, spec.describe(), spec.query.template)
        for name, spec in sources.__aggregates__.items()
    ]
    width = max(len(name) for name, _, _ in declared)
    lines = [f"Sources ({sources.__name__}), in declaration order"]
    for name, declaration, template in declared:
        lines += _pack(f"  {name.ljust(width)}  ", _pieces(declaration), indent=width + 6)
        lines.append(f"  {''.ljust(width)}  documents: {template}")
    return lines


def _pieces(declaration: str) -> list[str]:
    """``declaration`` cut where a line may break: before each ``.where(``, after each comma
    between its own arguments; never inside a quoted value."""
    pieces, start, depth, quote = [], 0, 0, ""
    for index, char in enumerate(declaration):
        if quote:
            quote = "" if char == quote and declaration[index - 1] != "\\" else quote
        elif char in "'\"":
            quote = char
        elif declaration.startswith(".where(", index) and index > start:
            pieces.append(declaration[start:index])
            start = index
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "," and depth == 1:
            pieces.append(declaration[start : index + 1])
            start = index + 1
    return [*pieces, declaration[start:]]


def _pack(prefix: str, pieces: list[str], indent: int) -> list[str]:
    """``pieces`` joined into lines of at most WIDTH (a longer piece gets a line of its own)."""
    lines = [prefix]
    for piece in pieces:
        if len(lines[-1]) + len(piece.rstrip()) > WIDTH and lines[-1].strip():
            lines.append(" " * indent + piece.lstrip())
        else:
            lines[-1] += piece
    return [line.rstrip() for line in lines]


# -- the functions that keep it in step -------------------------------------------------------
def _functions(view: type[ViewModel], triggers: list[TriggerSpec]) -> list[str]:
    spec = view.spec()
    lines = ["Functions (on_document_written), each with how a change finds the views to update"]
    for trigger in triggers:
        lines.append(f"  {trigger.name}")
        lines.append(f"    listens to  {trigger.document}")
        for found in _finds(view, trigger):
            lines += _wrap("    finds       ", found)
    where, key = f"{bookkeeping.AGGREGATES}/{spec.name}", f"{{{spec.key_wildcard}}}"
    if is_tally_view(view):
        lines.append(f"  state per key       {where}/{TALLIES}/{key}")
        lines.append(f"  membership entries  {where}/{MEMBERS}")
    else:
        lines.append(f"  record per key  {where}/{bookkeeping.RECORDS}/{key}")
    return lines


def _finds(view: type[ViewModel], trigger: TriggerSpec) -> list[str]:
    source = trigger.source
    if not isinstance(source, Query):
        return [source.describe_affected()]
    # A member's event moves every relation over its model (TallyBuilder.groups_over), not only
    # the query the trigger was compiled with.
    groups: dict[str, Query] = {}
    for aggregate in view.spec().sources.__aggregates__.values():
        if aggregate.query.model is source.model:
            groups.setdefault(aggregate.query.group, aggregate.query)
    return [query.describe_affected() for query in groups.values()]


# -- who may read it --------------------------------------------------------------------------
def _readers(view: type[ViewModel]) -> list[str]:
    spec = view.spec()
    access = spec.readable_by
    if access is None:
        text = (
            "nobody: closed to clients (no readable_by, so no allow rule in firestore.rules "
            "and not served by the HTTP API)"
        )
        return _wrap("Readable by ", text, indent=2)
    lines = ["Readable by (any one alternative suffices)"]
    for alternative in access.alternatives:
        lines += _wrap("  - ", _alternative_words(alternative, view))
    lines.append(f"  rules: match /{spec.template}")
    lines.append(f"         allow get, list: if {render_access(access, view, 'resource.data')};")
    collection = "/".join(spec.template.segments[:-1])
    listing = [
        alternative
        for alternative in access.alternatives
        if holds_for_every_document(alternative, spec.template.id_wildcard)
    ]
    if listing:
        who = "; or ".join(_alternative_words(alternative, view) for alternative in listing)
        text = f"allowed, by what needs neither the document's id nor its fields: {who}"
    else:
        text = (
            f"not allowed (each alternative needs the document's id "
            f"{{{spec.template.id_wildcard}}} or its fields); read one document at a time"
        )
    return lines + _wrap(f"  plain list of {collection}: ", text, indent=4)


def _alternative_words(alternative: tuple[Condition, ...], view: type[ViewModel]) -> str:
    first = "anyone, signed in or not" if Anyone() in alternative else "a signed-in user"
    more = [words for condition in alternative if (words := _words(condition, view))]
    return " ".join([first, " and ".join(more)]) if more else first


def _words(condition: Condition, view: type[ViewModel]) -> str:
    """One condition in words, to follow "a signed-in user"; "" when that says it all."""
    if isinstance(condition, Anyone | SignedIn):
        return ""
    if isinstance(condition, UidInPath):
        return f"whose uid is {{{condition.wildcard}}} in the path"
    if isinstance(condition, UidInField):
        return f"whose uid is the view's {firestore_field(view, condition.field)}"
    if isinstance(condition, Claim):
        return f"whose token has the claim {condition.name} == {condition.value!r}"
    ids = ", ".join(f"{name}={_id_words(source, view)}" for name, source in condition.ids)
    target = f"{condition.model.__name__}({ids})"
    if condition.test == "exists":
        return f"for whom {target} exists"
    if condition.test == "lists_uid":
        return f"whose uid is in {target}.{condition.field}"
    return f"for whom {target}.{condition.field} == {condition.value!r}"


def _id_words(source: PathParam | FieldValue | AuthUid, view: type[ViewModel]) -> str:
    if isinstance(source, PathParam):
        return f"{{{source.name}}}"
    if isinstance(source, FieldValue):
        return f"the view's {firestore_field(view, source.name)}"
    return "their uid"


# -- views it reads, views that read it -------------------------------------------------------
def _dependencies(
    view: type[ViewModel], triggers: list[TriggerSpec], everything: Iterable[TriggerSpec]
) -> list[str]:
    # The compiler's view graph (_check_view_graph): a trigger whose source is a view model.
    reads = [
        f"{trigger.source.model.__name__} (through {trigger.name})"
        for trigger in triggers
        if issubclass(trigger.source.model, ViewModel)
    ]
    read_by = [
        f"{trigger.view.spec().name} (through {trigger.name})"
        for trigger in everything
        if trigger.source.model is view
    ]
    return [
        "Views",
        *_wrap("  reads    ", ", ".join(reads) or "no other view"),
        *_wrap("  read by  ", ", ".join(read_by) or "no other view"),
    ]


__all__ = ["explain"]
