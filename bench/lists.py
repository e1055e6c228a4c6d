"""List views: documents read and latency per event for the agenda and the location board, with
N meetings, boiler's aggregate views against recomputing the view on every change.

One user (``star``) in N meetings, all at one location (``l1``): so ``agendas/star`` and
``locationBoards/l1`` each aggregate N meetings. Mix by index i: in session when i % 50 == 3,
closed when i % 5 == 4, else not started; starts one hour apart (unscheduled when
i % 20 == 17); the one ticket attends unless i % 3 == 2. Every event changes ``m00000``, the
first meeting by start (the head of the board's ``next`` and of the agenda):

- ``retitle``: a new title (both lists show it; nothing leaves a list);
- ``start``: not-started -> in-session (it leaves the board's ``next``: the bounded refill);
- ``reschedule``: starts after every other meeting (it leaves ``next`` and, with more than 50
  upcoming meetings, the agenda's first 50: a refill for both).

``start`` and ``reschedule`` are undone after each measurement (boiler runs the undo's events,
unmeasured; the baseline, recomputing from scratch at the next event, needs no run).

Set-up per N: the domain documents and the meeting cards (built by ``MeetingCard.build`` from
those documents, boiler's own view code) are written in batches; the target meeting's card goes
through its trigger once (so it has its record); then ``rebuild_tallies`` builds the agenda's
and the board's aggregate state from the cards: the state live events build, by the same
state-based step. boiler: the domain write is followed by the card trigger
(``meeting_card_on_meeting``, its reads and time are reported separately), then each list
view's trigger on the card (``agenda_on_meeting_card``, ``location_board_on_meeting_card``),
each in-process on a counting client. Baseline (``bench/baseline_functions/lists.py``): each
view's function on the meeting change, recomputing the view from every meeting. Both variants
run on the same data, one after the other; after each, the two views are compared with a
recomputation from the domain documents.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from boiler import compile_app
from boiler.runtime.pipeline import Pipeline
from boiler.runtime.tally_pipeline import pipeline_for
from boiler.runtime.tally_rebuild import rebuild_tallies
from boiler.views import ViewModel
from google.cloud import firestore
from meeting_room import Agenda, Location, LocationBoard, Meeting, MeetingCard, Ticket, app
from meeting_room.views import AGENDA_SIZE, BOARD_NEXT, MeetingCardData

from . import domain
from .counting import Tally, counting_client
from .handlers import baseline_lists

STAR = "star"
LOCATION_ID = "l1"
TARGET = "m00000"
T0 = dt.datetime(2030, 1, 6, 8, 0, tzinfo=dt.UTC)
EVENTS = ("retitle", "start", "reschedule")
VIEWS = ("agenda", "board")
VIEW_PATHS = {"agenda": f"agendas/{STAR}", "board": f"locationBoards/{LOCATION_ID}"}


def meeting_id(index: int) -> str:
    return f"m{index:05d}"


def meeting_doc(index: int) -> dict[str, Any]:
    if index % 50 == 3:
        status = "in-session"
    elif index % 5 == 4:
        status = "closed"
    else:
        status = "not-started"
    doc: dict[str, Any] = {
        "title": f"Meeting {index}",
        "locationId": LOCATION_ID,
        "status": status,
        "participantIds": [STAR],
    }
    if index % 20 != 17:
        doc["startsAt"] = T0 + dt.timedelta(hours=index)
    return doc


def full_lists(meetings: int) -> bool:
    """Whether both lists have more candidates than they show (a leaving entry is refilled)."""
    statuses = [meeting_doc(i)["status"] for i in range(meetings)]
    upcoming = sum(status != "closed" for status in statuses)
    not_started = sum(status == "not-started" for status in statuses)
    return upcoming > AGENDA_SIZE and not_started > BOARD_NEXT


def ticket_doc(index: int) -> dict[str, Any]:
    return {"role": "host", "attendance": index % 3 != 2}


def card_doc(index: int) -> dict[str, Any]:
    """What boiler's MeetingCard view holds for meeting ``index`` (built by its own code)."""
    mid = meeting_id(index)
    data = MeetingCardData(
        mid,
        meeting=Meeting.from_firestore(f"meetings/{mid}", meeting_doc(index)),
        location=Location.from_firestore(f"locations/{LOCATION_ID}", domain.LOCATION),
        tickets={STAR: Ticket.from_firestore(f"meetings/{mid}/tickets/{STAR}", ticket_doc(index))},
    )
    (view,) = MeetingCard.build_paths(data).values()
    return view.to_firestore()


def _seed_writes(meetings: int) -> Iterator[tuple[str, dict[str, Any]]]:
    yield f"users/{STAR}", domain.user_doc(0)
    yield f"locations/{LOCATION_ID}", domain.LOCATION
    for index in range(meetings):
        mid = meeting_id(index)
        yield f"meetings/{mid}", meeting_doc(index)
        yield f"meetings/{mid}/tickets/{STAR}", ticket_doc(index)
        yield f"meetingCards/{mid}", card_doc(index)


# -- the aggregate state -------------------------------------------------------------------
def build_state(view: type[ViewModel], client: firestore.Client, key: str) -> dict[str, Any]:
    """boiler's rebuild (reconcile) of one aggregate: every member brought in step by the
    state-based step a live event runs, 100 members per guarded commit."""
    began = time.perf_counter()
    report = rebuild_tallies(view, client, keys=[key])
    if report.failed:
        raise RuntimeError(f"rebuild_tallies({view.__name__}) failed: {report.failures}")
    return {"seconds": time.perf_counter() - began, "views_written": report.stale}


# -- the truth: both views recomputed from the domain documents ---------------------------
def _by_start(snapshot: firestore.DocumentSnapshot) -> tuple[Any, ...]:
    starts = (snapshot.to_dict() or {}).get("startsAt")
    return (starts is None, starts or dt.datetime.min.replace(tzinfo=dt.UTC), snapshot.id)


def expected_views(client: firestore.Client) -> dict[str, dict[str, Any]]:
    """``agendas/star`` and ``locationBoards/l1`` from every meeting, ticket and the location."""
    meetings = sorted(client.collection("meetings").stream(), key=_by_start)
    attending: dict[str, int] = {}
    for ticket in client.collection_group("tickets").stream():
        parent = ticket.reference.parent.parent
        if parent is not None and (ticket.to_dict() or {}).get("attendance"):
            attending[parent.id] = attending.get(parent.id, 0) + 1
    address = (client.document(f"locations/{LOCATION_ID}").get().to_dict() or {})["address"]
    rows = [(m.id, m.to_dict() or {}) for m in meetings]
    mine = [
        (mid, m)
        for mid, m in rows
        if STAR in m.get("participantIds", []) and m.get("status", "not-started") != "closed"
    ]
    here = [(mid, m) for mid, m in rows if m.get("locationId") == LOCATION_ID]
    live = [mid for mid, m in here if m.get("status") == "in-session"]
    return {
        VIEW_PATHS["agenda"]: {
            "uid": STAR,
            "meetings": [
                {
                    "meetingId": mid,
                    "title": m["title"],
                    "status": m.get("status", "not-started"),
                    "startsAt": m.get("startsAt"),
                    "address": address if m.get("locationId") == LOCATION_ID else None,
                }
                for mid, m in mine[:AGENDA_SIZE]
            ],
            "numUpcoming": len(mine),
        },
        VIEW_PATHS["board"]: {
            "locationId": LOCATION_ID,
            "address": address,
            "meetingsTotal": len(here),
            "meetingsInSession": len(live),
            "attendingInSession": sum(attending.get(mid, 0) for mid in live),
            "next": [
                {"meetingId": mid, "title": m["title"], "startsAt": m.get("startsAt")}
                for mid, m in here
                if m.get("status", "not-started") == "not-started"
            ][:BOARD_NEXT],
        },
    }


def wrong_views(client: firestore.Client) -> list[str]:
    """The list views that differ from the recomputation (missing counts as wrong)."""
    expected = expected_views(client)
    return [
        path for path, want in expected.items() if client.document(path).get().to_dict() != want
    ]


# -- the events ------------------------------------------------------------------------------
def _changes(meetings: int, repeat: int, variant: str) -> dict[str, tuple[dict, dict | None]]:
    """Per event: the measured update of the target meeting, and the unmeasured undo."""
    original = meeting_doc(0)
    later = T0 + dt.timedelta(hours=meetings + 100 + repeat)
    return {
        "retitle": ({"title": f"Retitled ({variant}, {repeat})"}, None),
        "start": ({"status": "in-session"}, {"status": original["status"]}),
        "reschedule": ({"startsAt": later}, {"startsAt": original["startsAt"]}),
    }


def _sample(tally: Tally, began: float, **extra: Any) -> dict[str, Any]:
    snap = tally.snapshot()
    return {
        "ms": 1000 * (time.perf_counter() - began),
        "reads": snap["reads"],
        "writes": snap["writes"],
        "deletes": snap["deletes"],
        "deferred_deletes": snap["deferred_deletes"],
        "rpcs": snap["rpcs"],
        "methods": snap["methods"],
        "query_ms": snap["rpc_ms"].get("run_query", 0.0),  # the emulator scans to answer these
        **extra,
    }


class _Boiler:
    """The card trigger and the two list triggers, in-process on a counting client."""

    def __init__(self, client: firestore.Client, tally: Tally) -> None:
        build = compile_app(app)
        self.tally = tally
        self.card = Pipeline(build.trigger("meeting_card_on_meeting"), client=client)
        self.lists = {
            "agenda": pipeline_for(build.trigger("agenda_on_meeting_card"), client=client),
            "board": pipeline_for(build.trigger("location_board_on_meeting_card"), client=client),
        }

    def process(self, mid: str) -> dict[str, dict[str, Any]]:
        """The meeting's change through the card, then through each list view."""
        samples: dict[str, dict[str, Any]] = {}
        steps: list[tuple[str, Any, str]] = [("card", self.card, f"meetings/{mid}")]
        steps += [(view, self.lists[view], f"meetingCards/{mid}") for view in VIEWS]
        for name, pipeline, path in steps:
            self.tally.reset()
            began = time.perf_counter()
            outcome = pipeline.handle(uuid.uuid4().hex, path)
            samples[name] = _sample(
                self.tally,
                began,
                status=outcome.status,
                retries=outcome.retries,
                views_written=outcome.views_written,
            )
        return samples


class _Baseline:
    """Each view's recompute-on-every-change function, in-process on a counting client."""

    def __init__(self, client: firestore.Client, tally: Tally) -> None:
        module = baseline_lists()
        self.client = client
        self.tally = tally
        self.functions: dict[str, Callable[..., None]] = {
            "agenda": module.agenda_on_meeting,
            "board": module.board_on_meeting,
        }

    def process(self, before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict]:
        samples = {}
        for view in VIEWS:
            self.tally.reset()
            began = time.perf_counter()
            self.functions[view](self.client, before, after)
            samples[view] = _sample(self.tally, began)
        return samples


def _measure(
    variant: str, plain: firestore.Client, runner: Any, meetings: int, repeats: int
) -> dict[str, list[dict[str, dict[str, Any]]]]:
    ref = plain.document(f"meetings/{TARGET}")

    def apply(update: dict[str, Any], measured: bool) -> dict[str, dict[str, Any]] | None:
        before = ref.get().to_dict() or {}
        ref.update(update)
        if variant == "boiler":
            return runner.process(TARGET)  # type: ignore[no-any-return]
        if not measured:  # the baseline recomputes from scratch: an undo needs no run
            return None
        return runner.process(before, {**before, **update})  # type: ignore[no-any-return]

    # Warm-up, not kept: three events for boiler (cheap), one for the baseline (seconds at 5,000).
    for warmup in range(3 if variant == "boiler" else 1):
        apply(_changes(meetings, -1 - warmup, variant)["retitle"][0], measured=True)
    samples: dict[str, list[dict[str, dict[str, Any]]]] = {event: [] for event in EVENTS}
    for repeat in range(repeats):
        changes = _changes(meetings, repeat, variant)
        for event in ("start", "reschedule", "retitle"):  # ends on a measured event
            update, undo = changes[event]
            sample = apply(update, measured=True)
            assert sample is not None
            samples[event].append(sample)
            if undo is not None:
                apply(undo, measured=False)
    return samples


def _one(
    emulator: Any, meetings: int, repeats: int, baseline_repeats: int, log: Callable[[str], None]
) -> dict[str, Any]:
    emulator.reset()
    plain = firestore.Client(project=emulator.project_id)
    began = time.perf_counter()
    domain.commit_in_batches(plain, _seed_writes(meetings))
    seeded = time.perf_counter()
    # The target's card through its trigger: it gets its record like a live card.
    card = Pipeline(compile_app(app).trigger("meeting_card_on_meeting"), client=plain)
    card.handle(uuid.uuid4().hex, f"meetings/{TARGET}")
    rebuilt = {
        "agenda": build_state(Agenda, plain, STAR),
        "board": build_state(LocationBoard, plain, LOCATION_ID),
    }
    setup = {"seed_s": seeded - began, "rebuild": rebuilt}
    check_setup = wrong_views(plain)
    log(
        f"lists: {meetings:,} meetings seeded in {setup['seed_s']:.1f} s, state rebuilt in "
        f"{sum(r['seconds'] for r in rebuilt.values()):.1f} s"
    )

    counted, tally = counting_client(emulator.project_id)
    out: dict[str, Any] = {"meetings": meetings, "setup": setup, "wrong_after_setup": check_setup}
    t0 = time.perf_counter()
    out["boiler"] = _measure("boiler", plain, _Boiler(counted, tally), meetings, repeats)
    out["boiler_wrong_views"] = wrong_views(plain)
    t1 = time.perf_counter()
    out["baseline"] = _measure(
        "baseline", plain, _Baseline(counted, tally), meetings, baseline_repeats
    )
    out["baseline_wrong_views"] = wrong_views(plain)
    out["seconds"] = {"boiler": t1 - t0, "baseline": time.perf_counter() - t1}
    log(
        f"lists: {meetings:,} meetings measured (boiler {t1 - t0:.1f} s, "
        f"baseline {out['seconds']['baseline']:.1f} s)"
    )
    return out


def run(
    emulator: Any,
    sizes: tuple[int, ...],
    repeats: int,
    baseline_repeats: int,
    log: Callable[[str], None] = lambda message: None,
) -> dict[str, Any]:
    """Per size: set up, measure boiler ``repeats`` times and the baseline ``baseline_repeats``
    times per event (the baseline at 5,000 meetings takes seconds per event)."""
    return {
        "sizes": list(sizes),
        "repeats": repeats,
        "baseline_repeats": baseline_repeats,
        # Sizes at which both ranked lists are full (more upcoming meetings than the agenda
        # shows): from these on, boiler's reads per event must not change with N.
        "saturated_sizes": [n for n in sizes if full_lists(n)],
        "by_size": {str(n): _one(emulator, n, repeats, baseline_repeats, log) for n in sizes},
    }
