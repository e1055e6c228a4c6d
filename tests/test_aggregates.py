"""Aggregate declarations (boiler/aggregates.py) and the pure tally moves (runtime/tally_state.py).

The declaration errors name the class, the field and the fix. The moves are checked against a
recomputation over every member after each of thousands of random changes, with a refill that
answers from the membership entries exactly as the Firestore query does.
"""

from __future__ import annotations

import datetime as dt
import random
from fractions import Fraction
from typing import Any

import pytest
from boiler import KEY, Avg, Count, DomainModel, Max, Min, Query, Root, Sources, Sum, Top
from boiler.aggregates import TopSpec
from boiler.errors import DeclarationError
from boiler.runtime.tally_state import Overlay, entry_of, merged_refill, move


class Shop(DomainModel, path="shops/{shopId}"):
    name: str


class Sale(DomainModel, path="sales/{saleId}"):
    shop_id: str
    tags: list[str] = []
    amount: float = 0.0
    units: int = 0
    label: str = ""
    at: dt.datetime | None = None
    open: bool = True


def declare(**aggregates: Any) -> type[Sources]:
    namespace = {"__annotations__": {"shop": Shop}, "shop": Root(Shop), **aggregates}
    return type("ShopData", (Sources,), namespace)


@pytest.mark.parametrize(
    ("build", "code", "words"),
    [
        (
            lambda: Query(Sale).where("shopp_id", "==", KEY),
            "query-field-unknown",
            ["shopp_id", "shop_id"],
        ),
        (
            lambda: Query(Sale).where("units", ">", KEY),
            "query-relation-not-derivable",
            ["'>'", "'=='"],
        ),
        (
            lambda: Query(Sale).where("units", "==", KEY),
            "query-relation-not-derivable",
            ["Sale.units", "str"],
        ),
        (
            lambda: Query(Sale).where("shop_id", "array-contains", KEY),
            "query-relation-not-derivable",
            ["list", "'=='"],
        ),
        (lambda: Query(Sale).where("label", "like", "x"), "query-operator-unknown", ["'like'"]),
        (
            lambda: Query(Sale).where("label", "in", "x"),
            "query-operator-unknown",
            ["list of values"],
        ),
        (
            lambda: Query(Sale).where("shop_id", "==", KEY).where("tags", "array-contains", KEY),
            "query-relation-twice",
            ["one filter"],
        ),
        (
            lambda: declare(total=Sum(Query(Sale).where("shop_id", "==", KEY), "label")),
            "aggregate-not-numeric",
            ["ShopData.total", "Sale.label", "int or float"],
        ),
        (
            lambda: declare(n=Count(Query(Sale).where("open", "==", True))),
            "query-relation-missing",
            ["ShopData.n", "KEY"],
        ),
        (
            lambda: declare(top=Top(Query(Sale).where("shop_id", "==", KEY), 0)),
            "aggregate-limit",
            ["ShopData.top", "1 to"],
        ),
        (
            lambda: declare(top=Top(Query(Sale).where("shop_id", "==", KEY), 3, by=("-label",))),
            "aggregate-order",
            ["Sale.label", "descending"],
        ),
        (
            lambda: declare(top=Top(Query(Sale).where("shop_id", "==", KEY), 3, by=("tags",))),
            "aggregate-order",
            ["Sale.tags", "order by a str, number, bool or datetime"],
        ),
        (
            lambda: declare(top=Top(Query(Sale).where("shop_id", "==", KEY), 3, fields=("nope",))),
            "query-field-unknown",
            ["ShopData.top", "nope"],
        ),
    ],
)
def test_declaration_errors_name_the_class_the_field_and_the_fix(
    build: Any, code: str, words: list[str]
) -> None:
    with pytest.raises(DeclarationError) as raised:
        build()
    assert raised.value.code == code
    for word in words:
        assert word in str(raised.value), (word, str(raised.value))


def test_a_view_cannot_mix_aggregates_and_joins() -> None:
    from boiler import Join

    with pytest.raises(DeclarationError, match="mixes aggregates") as raised:
        type(
            "Mixed",
            (Sources,),
            {
                "__annotations__": {"sale": Sale, "shop": Shop, "n": int},
                "sale": Root(Sale),
                "shop": Join(Shop, on="shop_id"),
                "n": Count(Query(Sale).where("shop_id", "==", KEY)),
            },
        )
    assert raised.value.code == "sources-mixed-kinds"


# -- the moves against recomputation -----------------------------------------------------------
BASE = Query(Sale).where("shop_id", "==", KEY)
OPEN = BASE.where("open", "==", True)
SOURCES = declare(
    count=Count(BASE),
    open_count=Count(OPEN),
    units=Sum(BASE, "units"),
    amount=Sum(OPEN, "amount"),
    mean=Avg(BASE, "amount"),
    first=Min(BASE, "at"),
    biggest=Max(BASE, "units"),
    top=Top(OPEN, 3, by=("at", "-units")),
    by_label=Top(BASE, 2, by=("label",), fields=("label",)),
)
SPECS = list(SOURCES.__aggregates__.values())


def expected(members: dict[str, Sale]) -> dict[str, Any]:
    mine = {p: s for p, s in members.items() if s.shop_id == "s1"}
    opened = {p: s for p, s in mine.items() if s.open}

    def ranked(items: dict[str, Sale], key: Any, limit: int) -> list[str]:
        return [p.rsplit("/", 1)[1] for p, _ in sorted(items.items(), key=key)[:limit]]

    never = dt.datetime.max.replace(tzinfo=dt.UTC)
    ats = [s.at for s in mine.values() if s.at is not None]
    return {
        "count": len(mine),
        "open_count": len(opened),
        "units": sum(s.units for s in mine.values()),
        "amount": float(sum((Fraction(s.amount) for s in opened.values()), Fraction(0))),
        "mean": float(sum(Fraction(s.amount) for s in mine.values()) / len(mine)) if mine else None,
        "first": min(ats) if ats else None,
        "biggest": max((s.units for s in mine.values()), default=None),
        "top": ranked(opened, lambda i: (i[1].at is None, i[1].at or never, -i[1].units, i[0]), 3),
        "by_label": ranked(mine, lambda i: (i[1].label, i[0]), 2),
    }


def actual(tallies: dict[str, Any]) -> dict[str, Any]:
    values = {spec.name: spec.value(tallies.get(spec.name, {})) for spec in SPECS}
    values["top"] = list(values["top"])
    values["by_label"] = list(values["by_label"])
    return values


def random_sale(rng: random.Random) -> Sale:
    return Sale(
        shop_id=rng.choice(["s1", "s1", "s2"]),
        amount=rng.choice([0.1, 0.2, 1e16, -1e16, 3.5, 0.3]),
        units=rng.randint(-3, 9),
        label=rng.choice(["a", "b", "c", ""]),
        at=rng.choice([None, dt.datetime(2026, 1, rng.randint(1, 4), tzinfo=dt.UTC)]),
        open=rng.random() < 0.7,
    )


@pytest.mark.parametrize("seed", range(8))
def test_every_move_equals_recomputation(seed: int) -> None:
    rng = random.Random(seed)
    members: dict[str, Sale] = {}
    entries: dict[str, dict[str, Any]] = {}  # the stored membership entries of key s1
    tallies: dict[str, Any] = {}
    for _ in range(400):
        path = f"sales/x{rng.randint(0, 12)}"
        sale = None if rng.random() < 0.2 else random_sale(rng)
        old = entries.get(path)
        new = entry_of(SPECS, sale, path) if sale is not None and sale.shop_id == "s1" else None
        overlay = Overlay({path: new})

        def refill(spec: TopSpec, limit: int, overlay: Overlay = overlay) -> list[dict[str, Any]]:
            stored = sorted(
                (
                    {"p": p, "k": e["k"][spec.name], "f": e["f"].get(spec.name)}
                    for p, e in entries.items()
                    if spec.name in e["k"]
                ),
                key=lambda entry: entry["k"],
            )[: limit + len(overlay.changed)]
            return merged_refill(stored, overlay, spec, limit)

        move(tallies, SPECS, path, old, new, refill)
        if new is None:
            entries.pop(path, None)
        else:
            entries[path] = new
        if sale is None:
            members.pop(path, None)
        else:
            members[path] = sale
        assert actual(tallies) == expected(members)
    assert len(entries) == sum(s.shop_id == "s1" for s in members.values())


def test_sums_of_floats_are_exact_whatever_the_order() -> None:
    spec = SOURCES.__aggregates__["amount"]
    tallies: dict[str, Any] = {}
    amounts = [1e16, 0.1, -1e16, 0.2, 0.3]
    for number, amount in enumerate(amounts):
        sale = Sale(shop_id="s1", amount=amount)
        move(
            tallies,
            [spec],
            f"sales/{number}",
            None,
            entry_of([spec], sale, f"sales/{number}"),
            None,
        )  # type: ignore[arg-type]
    assert spec.value(tallies["amount"]) == float(sum(Fraction(a) for a in amounts)) == 0.6
