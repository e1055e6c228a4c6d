"""boiler/typescript.py: TypeScript from the JSON Schema pydantic emits, as exact text; tsc
accepts the declarations with a right use of them and refuses a wrong one."""

from __future__ import annotations

import datetime as dt
import enum
import json
import subprocess
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest
from boiler import BoilerError
from boiler.naming import to_camel
from boiler.typescript import READ, WRITE, Declarations, TypeScript, identifier
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic.json_schema import models_json_schema

ROOT = Path(__file__).resolve().parent.parent
TSC = ROOT / "node_modules" / ".bin" / "tsc"


class Color(enum.StrEnum):
    RED = "red"
    GREEN = "green"


class Slot(BaseModel):
    """A time slot."""

    model_config = ConfigDict(alias_generator=to_camel)
    starts_at: dt.datetime
    label: str | None = None


class Tree(BaseModel):
    name: str
    children: list[Tree]


class Card(BaseModel):
    """A card.

    Its second paragraph, with a */ inside."""

    model_config = ConfigDict(alias_generator=to_camel, extra="forbid")
    title: str
    kind: Literal["a", "b"]
    exact: Literal[3]
    count: int
    ratio: float
    done: bool
    tags: list[str]
    scores: dict[str, int]
    slots: list[Slot]
    by_slot: dict[str, Slot | None]
    by_color: dict[Color, int]
    pair: tuple[int, str]
    numbers: tuple[int, ...]
    color: Color
    picked: Slot | None
    either: int | str | None
    anything: Any
    blob: bytes
    tree: Tree
    note: str = Field("", description="Shown under the title")


class Booking(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, extra="forbid")
    slot: Slot
    when: dt.datetime | None = None
    color: Color


def defs(*models: tuple[type[BaseModel], Any]) -> dict[str, Any]:
    return models_json_schema(list(models), ref_template="#/$defs/{model}")[1]["$defs"]


def declare_card_and_booking() -> Declarations:
    """Card is read (a view), Booking written and read back (a command); both nest a Slot."""
    schemas = defs((Card, "serialization"), (Booking, "validation"))
    return TypeScript(schemas).declare([("Card", READ), ("Booking", READ), ("Booking", WRITE)])


EXPECTED = """\
export interface Booking {
  slot: Slot;
  when?: Timestamp | null;
  color: Color;
}

export interface BookingInput {
  slot: SlotInput;
  when?: Timestamp | Date | null;
  color: Color;
}

/**
 * A card.
 *
 * Its second paragraph, with a *\\/ inside.
 */
export interface Card {
  title: string;
  kind: "a" | "b";
  exact: 3;
  count: number;
  ratio: number;
  done: boolean;
  tags: string[];
  scores: Record<string, number>;
  slots: Slot[];
  bySlot: Record<string, Slot | null>;
  byColor: Partial<Record<Color, number>>;
  pair: [number, string];
  numbers: number[];
  color: Color;
  picked: Slot | null;
  either: number | string | null;
  anything: unknown;
  blob: Bytes;
  tree: Tree;
  /** Shown under the title */
  note?: string;
}

export type Color = "red" | "green";

/** A time slot. */
export interface Slot {
  startsAt: Timestamp;
  label?: string | null;
}

/** A time slot. */
export interface SlotInput {
  startsAt: Timestamp | Date;
  label?: string | null;
}

export interface Tree {
  name: string;
  children: Tree[];
}
"""


def test_models_become_interfaces_aliases_and_unions_exactly() -> None:
    assert declare_card_and_booking().text == EXPECTED


def test_an_entry_used_both_ways_is_declared_twice_only_when_it_differs() -> None:
    declared = declare_card_and_booking()
    assert declared.name("Slot", READ) == "Slot" and declared.name("Slot", WRITE) == "SlotInput"
    assert declared.name("Color", READ) == declared.name("Color", WRITE) == "Color"
    assert declared.name("Booking", WRITE) == "BookingInput"  # nests a Slot, so differs too
    assert declared.imports == ("Bytes", "Timestamp")


def test_an_entry_written_only_keeps_its_name() -> None:
    declared = TypeScript(defs((Booking, "validation"))).declare([("Booking", WRITE)])
    assert declared.name("Booking", WRITE) == "Booking"
    assert "export interface Booking {\n  slot: Slot;\n  when?: Timestamp | Date | null;" in (
        declared.text
    )
    assert "startsAt: Timestamp | Date;" in declared.text


def test_notes_open_the_doc_comment() -> None:
    schemas = defs((Slot, "serialization"))
    declared = TypeScript(schemas).declare([("Slot", READ)], notes={"Slot": "A view: `s/{id}`."})
    assert declared.text.startswith("/**\n * A view: `s/{id}`.\n * A time slot.\n */\n")


def test_a_construct_typescript_cannot_express_names_the_model_and_field() -> None:
    class Odd(BaseModel):
        model_config = ConfigDict(alias_generator=to_camel)
        short_code: Annotated[str, WithJsonSchema({"type": "string", "not": {"const": ""}})]

    with pytest.raises(BoilerError) as raised:
        TypeScript(defs((Odd, "validation"))).declare([("Odd", WRITE)])
    assert raised.value.code == "typescript-unsupported"
    assert str(raised.value).startswith(
        "Odd.shortCode: TypeScript types cannot express the keyword"
    )
    assert "'not'" in str(raised.value)


@pytest.mark.parametrize(
    ("schema", "what"),
    [
        ({"type": "object", "properties": {}, "additionalProperties": {"type": "string"}}, "extra"),
        ({"const": {"a": 1}}, "the literal"),
        ({"allOf": [{"type": "string"}, {"minLength": 1}]}, "allOf of several"),
        ({"anyOf": [{"type": "string"}], "type": "string"}, "anyOf next to type"),
        ({"patternProperties": {"^a": {}}, "type": "object"}, "'patternProperties'"),
        ({"$ref": "#/$defs/Missing"}, "names no entry"),
        ({"$ref": "other.json#/Thing"}, "names no entry"),
    ],
)
def test_unsupported_schemas_are_boiler_errors(schema: dict[str, Any], what: str) -> None:
    with pytest.raises(BoilerError) as raised:
        TypeScript({"Thing": schema}).declare([("Thing", READ)])
    assert raised.value.code == "typescript-unsupported" and what in str(raised.value)
    assert str(raised.value).startswith("Thing")


def test_names_that_clash_are_boiler_errors() -> None:
    thing = {"type": "string"}
    with pytest.raises(BoilerError, match="Slot_Input: its TypeScript name Slot_Input clashes "):
        TypeScript({"Slot-Input": thing, "Slot_Input": thing}).declare(
            [("Slot-Input", READ), ("Slot_Input", READ)]
        )
    for name, reserved in [("Date", ()), ("Timestamp", ()), ("Views", ("Views",))]:
        with pytest.raises(BoilerError, match="clashes with a reserved name") as raised:
            TypeScript({name: thing}, reserved=reserved).declare([(name, READ)])
        assert raised.value.code == "typescript-name-clash"


def test_identifiers_and_quoted_properties() -> None:
    assert identifier("alpha__Attendee") == "alpha__Attendee"  # pydantic's same-name models
    assert identifier("Page[int]") == "Page_int_" and identifier("1st") == "_1st"
    schema = {"type": "object", "properties": {"not-valid": {"type": "string"}}, "required": []}
    text = TypeScript({"Odd": schema}).declare([("Odd", READ)]).text
    assert text == 'export interface Odd {\n  "not-valid"?: string;\n}\n'


def test_dicts_without_properties_and_open_objects() -> None:
    schemas = {
        "Open": {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
        "Extra": {
            "type": "object",
            "properties": {"a": {"type": "null"}},
            "additionalProperties": True,
        },
        "Free": {"type": "object"},
        "Closed": {"type": "object", "additionalProperties": False},
        "Keys": {
            "type": "object",
            "additionalProperties": {"type": "boolean"},
            "propertyNames": {"enum": ["x", "y"]},
        },
        "Nested": {"type": "array", "items": {"type": "object", "properties": {"b": {}}}},
        "Kinds": {"type": ["string", "null"]},
    }
    declared = TypeScript(schemas).declare([(name, READ) for name in schemas])
    assert declared.text.split("\n\n") == [
        "export type Closed = Record<string, never>;",
        "export interface Extra {\n  a?: null;\n  [key: string]: unknown;\n}",
        "export type Free = Record<string, unknown>;",
        'export type Keys = Partial<Record<"x" | "y", boolean>>;',
        "export type Kinds = string | null;",
        "export type Nested = { b?: unknown }[];",
        "export interface Open {\n  a: number;\n}\n",
    ]


# -- tsc ------------------------------------------------------------------------------------
def typecheck(directory: Path, files: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run tsc over ``files`` (relative name -> source), written to a fresh ``directory``,
    with the project's tsconfig."""
    assert TSC.is_file(), f"{TSC} is missing: run ./dev setup (npm ci installs typescript)"
    if not (directory / "node_modules").exists():
        (directory / "node_modules").symlink_to(ROOT / "node_modules")  # firebase's types
    config = {"extends": str(ROOT / "tsconfig.json"), "include": ["**/*.ts"]}
    (directory / "tsconfig.json").write_text(json.dumps(config))
    for name, source in files.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(source)
    return subprocess.run(
        [str(TSC), "--noEmit", "-p", str(directory)],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def module(declared: Declarations) -> str:
    return f'import type {{ {", ".join(declared.imports)} }} from "firebase/firestore";\n\n' + (
        declared.text
    )


RIGHT_USE = """\
import { Timestamp } from "firebase/firestore";
import type { BookingInput, Card, Slot } from "./types";

export function title(card: Card): string {
  const first: Slot | undefined = card.slots[0];
  const when: Date | undefined = first?.startsAt.toDate();
  const time = when?.getTime() ?? "";
  return `${card.title} ${card.kind} ${card.pair[1]} ${time} ${card.tree.children.length}`;
}

export const booking: BookingInput = {
  slot: { startsAt: new Date(), label: null },
  when: Timestamp.now(),
  color: "green",
};
"""

WRONG_USES = {
    "number for a string": "export const x: string = ({} as Card).count;\n",
    "a Date where the SDK delivers a Timestamp": (
        "export const slot: Slot = { startsAt: new Date() };\n"
    ),
    "a value outside a Literal": (
        'export const b: BookingInput = { slot: { startsAt: new Date() }, color: "blue" };\n'
    ),
    "a field the model does not have": (
        'export const b: BookingInput = { slot: { startsAt: new Date() }, color: "red", x: 1 };\n'
    ),
}


def test_tsc_accepts_the_declarations_and_a_right_use(tmp_path: Path) -> None:
    done = typecheck(
        tmp_path, {"types.ts": module(declare_card_and_booking()), "use.ts": RIGHT_USE}
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("case", sorted(WRONG_USES))
def test_tsc_refuses_a_wrong_use(tmp_path: Path, case: str) -> None:
    header = 'import type { BookingInput, Card, Slot } from "./types";\n'
    wrong = header + WRONG_USES[case]  # the wrong use on line 2
    done = typecheck(tmp_path, {"types.ts": module(declare_card_and_booking()), "wrong.ts": wrong})
    assert done.returncode != 0, f"tsc accepted {case}"
    errors = [line for line in done.stdout.splitlines() if ": error TS" in line]
    assert errors and all(line.startswith("wrong.ts(2,") for line in errors), done.stdout
