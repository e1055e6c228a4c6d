"""TypeScript declarations from the JSON Schema subset pydantic emits (pure, deterministic).

One declaration per ``$defs`` entry: an ``interface`` for an object with properties, a
``type`` alias otherwise. A schema reads differently on each side of the Firebase web SDK, so
each entry is declared for the ``Direction`` it is used in: a ``date-time`` string is a
``Timestamp`` in a document the SDK delivers (``READ``), ``Timestamp | Date`` in one it is
given to write (``WRITE``). An entry used both ways whose types differ is declared twice, the
second name suffixed (``Slot`` and ``SlotInput``)::

    >>> point = {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]}
    >>> print(TypeScript({"Point": point}).declare([("Point", READ)]).text, end="")
    export interface Point {
      x: number;
    }

A construct TypeScript cannot express (``not``, ``if``, ``patternProperties``...) is a
``BoilerError`` naming the model and the field (``typescript-unsupported``); two models
whose TypeScript names clash are one too (``typescript-name-clash``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from .errors import BoilerError
from .json_schemas import description


@dataclass(frozen=True, eq=False)
class Direction:
    """Which way documents cross the SDK: the TypeScript type of each special string format."""

    name: str
    formats: Mapping[str, str]
    suffix: str  # of a second declaration, when an entry used both ways differs


READ = Direction("read", {"date-time": "Timestamp", "binary": "Bytes"}, "")
WRITE = Direction("write", {"date-time": "Timestamp | Date", "binary": "Bytes"}, "Input")
DIRECTIONS = (READ, WRITE)
SDK_TYPES = frozenset({"Bytes", "Timestamp"})  # imported from "firebase/firestore"

# Keywords that only constrain values or annotate them: TypeScript's types ignore them.
IGNORED = frozenset(
    {
        "$comment",
        "contentEncoding",
        "contentMediaType",
        "default",
        "deprecated",
        "discriminator",
        "examples",
        "exclusiveMaximum",
        "exclusiveMinimum",
        "maxItems",
        "maxLength",
        "maxProperties",
        "maximum",
        "minItems",
        "minLength",
        "minProperties",
        "minimum",
        "multipleOf",
        "pattern",
        "readOnly",
        "title",
        "uniqueItems",
        "writeOnly",
    }
)
HANDLED = frozenset(
    {
        "$ref",
        "additionalProperties",
        "allOf",
        "anyOf",
        "const",
        "description",
        "enum",
        "format",
        "items",
        "oneOf",
        "prefixItems",
        "properties",
        "propertyNames",
        "required",
        "type",
    }
)
SCALARS = {"string": "string", "integer": "number", "number": "number", "boolean": "boolean"}
# Names a declaration must not take: TypeScript's keywords and the global types used here.
RESERVED = frozenset(
    {
        *SDK_TYPES,
        *("Array", "Date", "Partial", "Record"),
        *("any", "bigint", "boolean", "never", "null", "number", "object", "string", "symbol"),
        *("undefined", "unknown", "void", "break", "case", "catch", "class", "const"),
        *("continue", "debugger", "default", "delete", "do", "else", "enum", "export"),
        *("extends", "false", "finally", "for", "function", "if", "import", "in"),
        *("instanceof", "new", "return", "super", "switch", "this", "throw", "true", "try"),
        *("typeof", "var", "while", "with", "type", "interface", "let", "yield"),
    }
)
IDENTIFIER = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")


@dataclass(frozen=True)
class Declarations:
    """The declarations' text, each entry's TypeScript name per direction, the SDK types used."""

    text: str
    names: dict[tuple[str, str], str]  # (entry, direction name) -> TypeScript name
    imports: tuple[str, ...]

    def name(self, entry: str, direction: Direction) -> str:
        return self.names[(entry, direction.name)]


class TypeScript:
    """Converts ``defs`` (name -> JSON Schema, referenced as ``ref_prefix + name``)."""

    def __init__(
        self, defs: Mapping[str, Any], ref_prefix: str = "#/$defs/", reserved: Iterable[str] = ()
    ) -> None:
        self.defs = defs
        self.ref_prefix = ref_prefix
        self.reserved = RESERVED | frozenset(reserved)

    def declare(
        self, roots: Iterable[tuple[str, Direction]], notes: Mapping[str, str] | None = None
    ) -> Declarations:
        """Declare ``roots`` (entry, direction) and every entry they reference, by name;
        ``notes`` (entry -> text) open an entry's doc comment."""
        used = self._used(roots)
        differs = self._differing(used)
        names: dict[tuple[str, str], str] = {}
        owners: dict[str, str] = {}
        for entry, directions in sorted(used.items()):
            base = identifier(entry)
            for index, direction in enumerate(directions):
                name = base + (direction.suffix if index and entry in differs else "")
                if name in self.reserved or owners.get(name, entry) != entry:
                    clash = f"the model {owners[name]}" if name in owners else "a reserved name"
                    raise BoilerError(
                        f"{entry}: its TypeScript name {name} clashes with {clash}; "
                        "rename the model",
                        code="typescript-name-clash",
                    )
                owners[name] = entry
                names[(entry, direction.name)] = name
        imports: set[str] = set()
        blocks: list[str] = []
        declared: set[str] = set()
        for entry, directions in sorted(used.items()):
            for direction in directions:
                name = names[(entry, direction.name)]
                if name not in declared:
                    declared.add(name)
                    note = (notes or {}).get(entry)
                    blocks.append(_Writer(self, direction, names, imports).declaration(entry, note))
        return Declarations("\n".join(blocks), names, tuple(sorted(imports)))

    def target(self, reference: Any, where: str) -> str:
        """The entry a ``$ref`` names; a BoilerError for one outside ``defs``."""
        if isinstance(reference, str) and reference.startswith(self.ref_prefix):
            name = reference[len(self.ref_prefix) :]
            if name in self.defs:
                return name
        raise BoilerError(
            f"{where}: $ref {reference!r} names no entry of the schemas' $defs",
            code="typescript-unsupported",
        )

    def _used(self, roots: Iterable[tuple[str, Direction]]) -> dict[str, tuple[Direction, ...]]:
        """Every entry reachable from ``roots``, with the directions it is used in."""
        seen: set[tuple[str, Direction]] = set()
        stack = [(self.target(self.ref_prefix + root, root), d) for root, d in roots]
        while stack:
            entry, direction = stack.pop()
            if (entry, direction) in seen:
                continue
            seen.add((entry, direction))
            stack += [(self.target(ref, entry), direction) for ref in _refs(self.defs[entry])]
        return {
            entry: tuple(d for d in DIRECTIONS if (entry, d) in seen)
            for entry in {entry for entry, _ in seen}
        }

    def _differing(self, used: Mapping[str, tuple[Direction, ...]]) -> set[str]:
        """Entries whose type depends on the direction: a special format, or a reference to
        such an entry (to a fixed point, as entries may reference each other in a cycle)."""
        formats = {f for d in DIRECTIONS for f in d.formats}
        special = {f for f in formats if len({d.formats.get(f) for d in DIRECTIONS}) > 1}
        differs = {e for e in used if _formats(self.defs[e]) & special}
        grown = True
        while grown:
            more = {
                entry
                for entry in used
                if entry not in differs
                and any(self.target(ref, entry) in differs for ref in _refs(self.defs[entry]))
            }
            differs |= more
            grown = bool(more)
        return differs


class _Writer:
    """Renders entries in one direction."""

    def __init__(
        self,
        converter: TypeScript,
        direction: Direction,
        names: Mapping[tuple[str, str], str],
        imports: set[str],
    ) -> None:
        self.converter = converter
        self.direction = direction
        self.names = names
        self.imports = imports

    def declaration(self, entry: str, note: str | None) -> str:
        schema = self.converter.defs[entry]
        name = self.names[(entry, self.direction.name)]
        doc = _doc([note, description(schema)], "")
        if isinstance(schema, dict) and schema.get("type") == "object" and "properties" in schema:
            self.check(schema, entry)
            members = "".join(self.members(schema, entry, "  "))
            return f"{doc}export interface {name} {{\n{members}}}\n"
        return f"{doc}export type {name} = {self.type(schema, entry)};\n"

    def members(self, schema: dict[str, Any], where: str, indent: str) -> list[str]:
        required = set(schema.get("required", []))
        lines = []
        for key, value in schema["properties"].items():
            optional = "" if key in required else "?"
            field = key if IDENTIFIER.match(key) else json.dumps(key)
            doc = _doc([description(value)], indent)
            lines.append(f"{doc}{indent}{field}{optional}: {self.type(value, f'{where}.{key}')};\n")
        extra = schema.get("additionalProperties", False)
        if extra is True or extra == {}:
            lines.append(f"{indent}[key: string]: unknown;\n")
        elif extra is not False:
            raise BoilerError(
                f"{where}: declared fields plus typed extra fields (additionalProperties "
                f"{json.dumps(extra)}) have no TypeScript type; declare the extra fields as a "
                "dict field instead",
                code="typescript-unsupported",
            )
        return lines

    def type(self, schema: Any, where: str) -> str:
        if schema is True or schema == {}:
            return "unknown"
        if schema is False:
            return "never"
        self.check(schema, where)
        if "$ref" in schema:
            entry = self.converter.target(schema["$ref"], where)
            return self.names[(entry, self.direction.name)]
        if "const" in schema:
            return _literal(schema["const"], where)
        if "enum" in schema:
            return _union(_literal(value, where) for value in schema["enum"])
        for key in ("anyOf", "oneOf"):
            if key in schema:
                if "type" in schema or "properties" in schema:
                    _unsupported(where, f"{key} next to type", schema)
                return _union(self.type(s, where) for s in schema[key])
        if "allOf" in schema:
            if len(schema["allOf"]) != 1:
                _unsupported(where, "allOf of several schemas", schema)
            return self.type(schema["allOf"][0], where)
        kind = schema.get("type")
        if kind is None:
            return "unknown"
        if isinstance(kind, list):
            return _union(self.type({**schema, "type": k}, where) for k in kind)
        if kind == "string" and schema.get("format") in self.direction.formats:
            written = self.direction.formats[schema["format"]]
            self.imports.update(SDK_TYPES & set(written.split(" | ")))
            return written
        if kind in SCALARS:
            return SCALARS[kind]
        if kind == "null":
            return "null"
        if kind == "array":
            return self.array(schema, where)
        if kind == "object":
            return self.object(schema, where)
        _unsupported(where, f"type {kind!r}", schema)

    def array(self, schema: dict[str, Any], where: str) -> str:
        items = schema.get("items", True)
        if "prefixItems" in schema:
            members = [self.type(s, f"{where}[{i}]") for i, s in enumerate(schema["prefixItems"])]
            closed = items is False or schema.get("maxItems", len(members) + 1) <= len(members)
            if not closed:  # tuple[int, ...] -> items; a fixed tuple -> maxItems
                members.append(f"...{_element(self.type(items, f'{where}[]'))}[]")
            return f"[{', '.join(members)}]"
        return f"{_element(self.type(items, f'{where}[]'))}[]"

    def object(self, schema: dict[str, Any], where: str) -> str:
        if "properties" in schema:
            members = self.members(schema, where, "")
            return "{ " + " ".join(line.strip() for line in members).rstrip(";") + " }"
        extra = schema.get("additionalProperties", True)
        value = "never" if extra is False else self.type(extra, f"{where}.*")
        keys = schema.get("propertyNames", {})
        self.check(keys, f"{where} keys")
        if any(k in keys for k in ("$ref", "enum", "const")):
            return f"Partial<Record<{self.type(keys, f'{where} keys')}, {value}>>"
        return f"Record<string, {value}>"

    def check(self, schema: Any, where: str) -> None:
        if not isinstance(schema, dict):
            _unsupported(where, "a schema that is not an object", schema)
        for key in schema:
            if key not in HANDLED and key not in IGNORED:
                _unsupported(where, f"the keyword {key!r}", schema)


def identifier(entry: str) -> str:
    """A TypeScript name for a ``$defs`` entry: ``Slot-Input`` -> ``Slot_Input``."""
    name = re.sub(r"[^A-Za-z0-9_$]+", "_", entry)
    return name if IDENTIFIER.match(name) else f"_{name}"


def _unsupported(where: str, what: str, schema: Any) -> NoReturn:
    raise BoilerError(
        f"{where}: TypeScript types cannot express {what} (in {json.dumps(schema)[:200]}); "
        "give the field a type made of models, str, int, float, bool, None, datetime, "
        "Literal, list, tuple, dict and unions of them",
        code="typescript-unsupported",
    )


def _literal(value: Any, where: str) -> str:
    if value is None or isinstance(value, str | int | float | bool):
        return json.dumps(value, ensure_ascii=False)
    _unsupported(where, f"the literal {json.dumps(value)}", {"const": value})


def _union(members: Iterable[str]) -> str:
    parts: list[str] = []
    for member in members:
        for part in member.split(" | ") if "{" not in member else [member]:
            if part not in parts:
                parts.append(part)
    return " | ".join(parts) if parts else "never"


def _element(type_: str) -> str:
    """An array's element type, parenthesised when it is a union."""
    return f"({type_})" if " | " in type_ else type_


def _doc(texts: Iterable[str | None], indent: str) -> str:
    """A JSDoc comment of ``texts`` (none: ""); ``*/`` inside is escaped."""
    lines = [
        line.rstrip().replace("*/", "*\\/")
        for text in texts
        if text
        for line in text.strip().splitlines()
    ]
    if not lines:
        return ""
    if len(lines) == 1:
        return f"{indent}/** {lines[0]} */\n"
    body = "".join(f"{indent} *{' ' + line if line else ''}\n" for line in lines)
    return f"{indent}/**\n{body}{indent} */\n"


def _refs(schema: Any) -> list[str]:
    """Every ``$ref`` inside ``schema``."""
    if isinstance(schema, list):
        return [ref for item in schema for ref in _refs(item)]
    if not isinstance(schema, dict):
        return []
    found = [schema["$ref"]] if isinstance(schema.get("$ref"), str) else []
    return found + [ref for key, value in schema.items() if key != "$ref" for ref in _refs(value)]


def _formats(schema: Any) -> set[str]:
    """Every string ``format`` inside ``schema``."""
    if isinstance(schema, list):
        return {f for item in schema for f in _formats(item)}
    if not isinstance(schema, dict):
        return set()
    found = {schema["format"]} if isinstance(schema.get("format"), str) else set()
    return found | {f for value in schema.values() for f in _formats(value)}
