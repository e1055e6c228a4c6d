"""The ``boiler`` command line: generated files from an app's declarations, and the jobs
that bring stored views in step with them.

    boiler generate --app meeting_room   # write firestore.rules, indexes, openapi.json, types
    boiler check --app meeting_room      # exit 1 if a committed file is out of date (a diff)
    boiler reconcile --app meeting_room  # repair views that drifted from the domain
    boiler migrate --app meeting_room    # bring stored views to each declared version
    boiler pending --app meeting_room    # finish work failed/killed triggers left
    boiler rebuild --app meeting_room [MeetingCard]  # backfill views from the domain, resumably
    boiler explain --app meeting_room MeetingSession  # sources, functions, rules of a view
    boiler doctor                        # is this machine ready? each problem with its fix
    boiler init my-project               # a new project: layout, example app, tests, pinned boiler

``boiler`` is the package's console script (``./dev setup`` installs it); ``python -m boiler``
is the same command.

Subcommands live in ``SUBCOMMANDS``; add one with ``@subcommand("name", "help")``.
Exit codes: 0 success; 1 the job is not done (``check``: a generated file differs;
``reconcile``, ``migrate``, ``rebuild``: an aggregate could not be rebuilt, listed with its
error, or shards still running; ``pending``: an entry failed again; ``doctor``: a check
failed); 2 bad usage, bad declarations or an unreachable service (the message names the fix).
Long jobs draw a progress bar on stderr; stdout carries only their results.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import itertools
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .api.openapi import openapi_document, render
from .app import App
from .compiler import Build, compile_app
from .errors import BoilerError
from .frontend_types import frontend_files
from .graphql_schema import graphql_sdl
from .indexes import generate_indexes
from .rules import generate_rules

RULES_FILE = "firestore.rules"
INDEXES_FILE = "firestore.indexes.json"
DIFF_LINES = 60  # of each stale file's diff `check` prints
OPENAPI_FILE = "openapi.json"  # the HTTP API's document (served by the `api` function)
GRAPHQL_FILE = "schemas/boiler.graphql"  # the live server's /graphql schema, served as is


@dataclass(frozen=True)
class Subcommand:
    name: str
    help: str
    run: Callable[[argparse.Namespace], int]
    configure: Callable[[argparse.ArgumentParser], None] | None = None
    needs_app: bool = True  # takes --app (every subcommand but the machine's checks)


SUBCOMMANDS: dict[str, Subcommand] = {}


def subcommand(
    name: str,
    help: str,
    configure: Callable[[argparse.ArgumentParser], None] | None = None,
    needs_app: bool = True,
) -> Callable[[Callable[[argparse.Namespace], int]], Callable[[argparse.Namespace], int]]:
    """Register ``boiler <name>``; ``configure`` adds arguments beyond ``--app``/``--root``."""

    def register(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        if name in SUBCOMMANDS:
            raise ValueError(f"boiler subcommand {name!r} is registered twice")
        SUBCOMMANDS[name] = Subcommand(name, help, run, configure, needs_app)
        return run

    return register


def load_app(spec: str) -> App:
    """``module`` (its ``app`` attribute) or ``module:attribute`` -> the ``App``."""
    module_name, _, attribute = spec.partition(":")
    module = importlib.import_module(module_name)
    app = getattr(module, attribute or "app", None)
    if not isinstance(app, App):
        raise BoilerError(
            f"{spec}: expected a boiler.App at {module_name}.{attribute or 'app'}",
            code="app-not-found",
        )
    return app


def find_root(start: Path | None = None) -> Path:
    """The nearest directory at or above ``start`` (default cwd) holding firebase.json."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        if (directory / "firebase.json").is_file():
            return directory
    raise BoilerError(
        f"no firebase.json in {here} or above; pass --root", code="project-root-not-found"
    )


def generated_files(build: Build) -> dict[str, str]:
    """File name -> content, exactly as ``generate`` writes them."""
    return {
        RULES_FILE: generate_rules(build),
        INDEXES_FILE: json.dumps(generate_indexes(build), indent=2) + "\n",
        OPENAPI_FILE: render(openapi_document(build)),
        **frontend_files(build),  # schemas/boiler.schema.json, web/src/generated/boiler.ts
        GRAPHQL_FILE: graphql_sdl(build),
    }


def _build(args: argparse.Namespace) -> tuple[Build, Path]:
    return compile_app(load_app(args.app)), (Path(args.root) if args.root else find_root())


@subcommand("generate", "write firestore.rules, indexes, openapi.json and the front-end types")
def generate(args: argparse.Namespace) -> int:
    build, root = _build(args)
    for name, content in generated_files(build).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content)
        print(f"wrote {root / name}")
    return 0


@subcommand("check", "exit 1 if the committed generated files differ from the declarations")
def check(args: argparse.Namespace) -> int:
    build, root = _build(args)
    stale = [
        name
        for name, content in generated_files(build).items()
        if not (root / name).is_file() or (root / name).read_text() != content
    ]
    expected = generated_files(build)
    for name in stale:
        path = root / name
        committed = path.read_text().splitlines(keepends=True) if path.is_file() else []
        diff = difflib.unified_diff(
            committed,
            expected[name].splitlines(keepends=True),
            f"{name} (committed)",
            f"{name} (from the declarations)",
        )
        shown = list(itertools.islice(diff, DIFF_LINES))
        print(
            f"{path} differs from what the {build.app.name} declarations generate; "
            f"run `boiler generate --app {args.app}`",
            file=sys.stderr,
        )
        sys.stderr.writelines(shown)
        if len(shown) == DIFF_LINES:
            print(f"... (diff cut at {DIFF_LINES} lines)", file=sys.stderr)
    return 1 if stale else 0


def _client(args: argparse.Namespace) -> Any:
    from google.cloud import firestore

    from .runtime.client import project_id

    return firestore.Client(project=args.project or project_id())


def _with_project(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--project", help="Firebase project id (default: GCLOUD_PROJECT)")
    sub.add_argument("--view", action="append", help="only this view model (repeatable)")


@subcommand(
    "reconcile", "rebuild every view from scratch; repair stale views and orphans", _with_project
)
def reconcile_views(args: argparse.Namespace) -> int:
    from .progress import progress_bar
    from .runtime.key_walk import DEFAULT_BATCH, batches, stored_views_and_keys
    from .runtime.reconcile import ReconcileReport, reconcile

    build = compile_app(load_app(args.app))
    client = _client(args)
    failed = 0
    for view in build.app.views:
        if not args.view or view.__name__ in args.view:
            report = ReconcileReport(view.spec().name)
            with progress_bar(report.view) as advance:
                stored, keys = stored_views_and_keys(view, client)
                advance(0, len(keys))
                for chunk in batches(keys, DEFAULT_BATCH):
                    report.add(reconcile(view, client, chunk, stored=stored))
                    advance(report.aggregates, len(keys))
            print(json.dumps(report.as_dict()))
            _print_failures("reconcile", report.view, report.failures)
            failed += report.failed
    if failed:
        print(
            f"boiler reconcile: {failed} aggregate(s) failed; fix the data or the view's build() "
            "named above, then run reconcile again",
            file=sys.stderr,
        )
    return 1 if failed else 0


def _print_failures(command: str, view: str, failures: list[dict[str, Any]]) -> None:
    """One stderr line per aggregate a run could not rebuild: its key and the error."""
    for failure in failures:
        print(
            f"boiler {command}: {view}/{failure['key']} not rebuilt: {failure['error']}",
            file=sys.stderr,
        )


def between(low: int, high: int) -> Callable[[str], int]:
    """An argparse ``type``: an int from ``low`` to ``high``, else a usage error naming both."""

    def parse(text: str) -> int:
        if not text.isdigit() or not low <= int(text) <= high:
            raise argparse.ArgumentTypeError(f"expected {low}..{high}, got {text!r}")
        return int(text)

    return parse


def _migrate_options(sub: argparse.ArgumentParser) -> None:
    from .runtime.migrate import DEFAULT_BATCH, MAX_BATCH

    _with_project(sub)
    sub.add_argument(
        "--batch",
        type=between(1, MAX_BATCH),
        default=DEFAULT_BATCH,
        help=f"keys per reconcile call and progress commit (1..{MAX_BATCH}, "
        f"default {DEFAULT_BATCH})",
    )


@subcommand(
    "migrate",
    "bring every stored view to its declared version (resumable: rerun after an interruption)",
    _migrate_options,
)
def migrate_views(args: argparse.Namespace) -> int:
    from .progress import progress_bar
    from .runtime.migrate import in_dependency_order, migrate

    build = compile_app(load_app(args.app))
    client = _client(args)
    failed = 0
    for view in in_dependency_order(build):  # a view after the views it aggregates
        if not args.view or view.__name__ in args.view:
            with progress_bar(view.spec().name) as advance:
                report = migrate(
                    view,
                    client,
                    batch=args.batch,
                    progress=lambda r: advance(r.aggregates, r.total),
                )
                advance(report.aggregates, report.total)
            print(report.summary())
            _print_failures("migrate", report.view, report.failures)
            if report.held_back and report.status != "already":
                print(
                    f"boiler migrate: {report.view}: {report.held_back} aggregate(s) held back "
                    "(a source document fails validation, or build() raised: see _boilerErrors); "
                    "their views stay as they were: fix the cause, then run `boiler reconcile "
                    f"--view {report.view}`",
                    file=sys.stderr,
                )
            failed += report.failed
    if failed:
        print(
            f"boiler migrate: {failed} aggregate(s) failed; fix the data or the view's build() "
            "named above, then run migrate again (it retries them)",
            file=sys.stderr,
        )
    return 1 if failed else 0


def _pending_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--project", help="Firebase project id (default: GCLOUD_PROJECT)")
    sub.add_argument(
        "--min-age",
        type=float,
        default=60.0,
        help="seconds; younger pending entries and commands may be in flight",
    )


@subcommand(
    "pending",
    "finish the work failed or killed triggers left (pending entries, unprocessed commands)",
    _pending_options,
)
def redrive_pending(args: argparse.Namespace) -> int:
    import datetime as dt

    from .progress import progress_bar
    from .runtime.redrive import redrive_all

    build = compile_app(load_app(args.app))
    with progress_bar("pending", unit="entries") as advance:
        report = redrive_all(
            build, _client(args), dt.timedelta(seconds=args.min_age), progress=advance
        )
    print(json.dumps(report.as_dict()))
    if report.obsolete:
        print(
            f"boiler pending: deleted {report.obsolete} pending entr"
            f"{'y' if report.obsolete == 1 else 'ies'} of functions {build.app.name} no longer "
            f"has (renamed or removed): {', '.join(report.obsolete_entries)}",
            file=sys.stderr,
        )
    return 1 if report.failed else 0


def _rebuild_options(sub: argparse.ArgumentParser) -> None:
    from .runtime.key_walk import DEFAULT_BATCH, MAX_BATCH
    from .runtime.rebuild_distributed import DEFAULT_SHARD_KEYS, MAX_SHARD_KEYS

    sub.add_argument("views", nargs="*", metavar="VIEW", help="view models (default: every one)")
    sub.add_argument("--project", help="Firebase project id (default: GCLOUD_PROJECT)")
    sub.add_argument(
        "--batch",
        type=between(1, MAX_BATCH),
        default=DEFAULT_BATCH,
        help=f"keys per progress commit (1..{MAX_BATCH}, default {DEFAULT_BATCH})",
    )
    sub.add_argument(
        "--restart", action="store_true", help="abandon an unfinished run and start over"
    )
    sub.add_argument(
        "--distributed",
        action="store_true",
        help="shard the keys over the boilerRebuild task-queue function (deployed, or the "
        "running emulators) and wait for the shards",
    )
    sub.add_argument(
        "--shard-keys",
        type=between(1, MAX_SHARD_KEYS),
        default=DEFAULT_SHARD_KEYS,
        help=f"keys per shard with --distributed (default {DEFAULT_SHARD_KEYS})",
    )
    sub.add_argument(
        "--timeout",
        type=float,
        default=3600.0,
        help="seconds to wait for the shards with --distributed; rerun to go on waiting",
    )


@subcommand(
    "rebuild",
    "rebuild views from the domain after a declaration change, or to repair them: resumable "
    "(rerun after an interruption), with progress and counts; --distributed shards the work",
    _rebuild_options,
)
def rebuild_views(args: argparse.Namespace) -> int:
    from .progress import progress_bar
    from .runtime import rebuild_distributed as sharded
    from .runtime.migrate import in_dependency_order
    from .runtime.rebuild import REBUILT, rebuild

    build = compile_app(load_app(args.app))
    chosen = {build.view(name) for name in args.views}  # unknown names: exit 2, naming them
    client = _client(args)
    unfinished = 0
    for view in in_dependency_order(build):  # an aggregate view after the views it reads
        if chosen and view not in chosen:
            continue
        name = view.spec().name
        with progress_bar(name) as advance:
            if args.distributed:
                run = sharded.plan(view, client, shard_keys=args.shard_keys, restart=args.restart)
                sharded.enqueue(run)
                report: Any = sharded.wait(
                    client,
                    run,
                    timeout=args.timeout,
                    progress=lambda r: advance(r.aggregates, r.total),
                )
            else:
                report = rebuild(
                    view,
                    client,
                    batch=args.batch,
                    restart=args.restart,
                    progress=lambda r: advance(r.aggregates, r.total),
                )
                advance(report.aggregates, report.total)
        print(report.summary())
        _print_failures("rebuild", name, report.failures)
        if report.held_back:
            print(
                f"boiler rebuild: {name}: {report.held_back} aggregate(s) held back (a source "
                "document fails validation: see _boilerErrors); their views stay as they were "
                "until the document is fixed",
                file=sys.stderr,
            )
        if report.status != REBUILT:
            unfinished += 1
    if unfinished:
        print(
            f"boiler rebuild: {unfinished} view(s) not finished (failures listed above, or "
            "shards still running); fix the cause and run the same command again: it resumes",
            file=sys.stderr,
        )
    return 1 if unfinished else 0


def _explain_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("view", help="the view model's class name, e.g. MeetingSession")


@subcommand(
    "explain",
    "what feeds a view, the functions generated for it, how a change finds its views, "
    "and the rules that guard it",
    _explain_options,
)
def explain_view(args: argparse.Namespace) -> int:
    from .explain import explain

    print(explain(compile_app(load_app(args.app)), args.view), end="")
    return 0


@subcommand(
    "doctor",
    "check this machine for the local stack and the tests (Python, Java, Node, firebase-tools, "
    "the emulator, ports); each problem with its fix",
    needs_app=False,
)
def doctor(args: argparse.Namespace) -> int:
    from .testing.doctor import FAIL, diagnose, report  # dev tooling: not in the deploy bundle

    findings = diagnose(Path(args.root) if args.root else find_root())
    print(report(findings), end="")
    return 1 if any(finding.status == FAIL for finding in findings) else 0


def _init_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("directory", help="where to write the project (a new or empty directory)")
    sub.add_argument(
        "--app-name", help="the app's Python package (default: from the directory's name)"
    )


@subcommand(
    "init",
    "write a new project: this layout, a small example app with its tests, ./dev and .ci/run, "
    "boiler pinned as a wheel in vendor/",
    _init_options,
    needs_app=False,
)
def init(args: argparse.Namespace) -> int:
    from .scaffold import create

    print(create(Path(args.directory), app_name=args.app_name).summary())
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="boiler", description=__doc__.splitlines()[0])
    commands = top.add_subparsers(dest="subcommand", required=True)
    for entry in SUBCOMMANDS.values():
        sub = commands.add_parser(entry.name, help=entry.help, description=entry.help)
        if entry.needs_app:
            sub.add_argument("--app", required=True, help="module[:attribute] holding the App")
        sub.add_argument("--root", help="project directory (default: nearest with firebase.json)")
        if entry.configure is not None:
            entry.configure(sub)
        sub.set_defaults(run=entry.run)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.run(args))
    except BoilerError as error:
        print(f"boiler {args.subcommand}: {error} [{error.code}]", file=sys.stderr)
        return 2
    except ImportError as error:
        print(f"boiler {args.subcommand}: {error}", file=sys.stderr)
        return 2
