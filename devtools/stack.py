"""The local stack behind `./dev`: `python -m devtools.stack up|exec|firestore-jar`.

python -m devtools.stack up                 # emulators + seed, until Ctrl-C
python -m devtools.stack exec -- pytest -q  # emulators around one command
python -m devtools.stack token alice        # an ID token from the running Auth emulator
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time

from boiler.testing.auth import AuthEmulator
from boiler.testing.emulators import EmulatorError, EmulatorSuite, firestore_launcher, project_root

PROJECT_ID = "demo-boiler"
STACK = ("firestore", "functions", "auth", "hosting")


def stack_env(suite: EmulatorSuite) -> dict[str, str]:
    """What a client process needs to talk to the running stack."""
    env = suite.env()
    env["FIREBASE_EMULATOR_HUB"] = suite.host("hub")
    env["BOILER_FUNCTIONS_URL"] = suite.url("functions")
    if "tasks" in suite.ports:  # boilerRedrive and `boiler rebuild --distributed` enqueue here
        env["CLOUD_TASKS_EMULATOR_HOST"] = suite.host("tasks")
    if "hosting" in suite.ports:
        env["BOILER_HOSTING_URL"] = suite.url("hosting")
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    shared = str(suite.root / "shared")
    env["PYTHONPATH"] = os.pathsep.join([shared, *(p for p in paths if p != shared)])
    return env


def describe(suite: EmulatorSuite) -> str:
    rows = [f"project id       {suite.project_id}"]
    names = {
        "firestore": "Firestore",
        "functions": "Functions",
        "auth": "Auth",
        "hosting": "Hosting",
    }
    for key, title in names.items():
        if key in suite.ports:
            rows.append(f"{title:<16} {suite.url(key)}")
    rows.append(f"log              {suite.log_path}")
    rows.append("environment:")
    rows += [f"  export {name}={value}" for name, value in stack_env(suite).items()]
    return "\n".join(rows)


def seed(suite: EmulatorSuite) -> None:
    shared = suite.root / "shared" / "meeting_room"
    if not ((shared / "seed.py").is_file() or (shared / "seed" / "__init__.py").is_file()):
        print("seed: shared/meeting_room/seed.py does not exist yet; skipping", flush=True)
        return
    env = {**os.environ, **stack_env(suite)}
    print("seed: python -m meeting_room.seed", flush=True)
    subprocess.run([sys.executable, "-m", "meeting_room.seed"], env=env, check=True)


def start_live(suite: EmulatorSuite) -> tuple[subprocess.Popen[str], str | None]:
    """The live server (docs/live.md) beside the emulators, on $BOILER_LIVE_PORT or a free
    port; prints its address once it listens, and returns it (None if it did not start)."""
    port = os.environ.get("BOILER_LIVE_PORT", "0")
    command = [sys.executable, "-m", "boiler.live", "--app", "meeting_room", "--port", port]
    env = {**os.environ, **stack_env(suite)}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None  # piped above
    line = process.stdout.readline().strip()  # "live server: ws://HOST:PORT/ws", or EOF
    print(line or f"live server: did not start (exit {process.wait()})", flush=True)
    address = line.removeprefix("live server: ")
    return process, address if address.startswith("ws") else None


def demo_links(suite: EmulatorSuite, live: str | None) -> str:
    """The web demo's address; with a live server, links that tell the page where its /ws is
    (the switch "Meeting via: live server" needs it; via=live starts with it on)."""
    if "hosting" not in suite.ports:
        return ""
    page = suite.url("hosting")
    if live is None:
        return f"web demo         {page}/"
    return f"web demo         {page}/?live={live}\nweb demo via /ws {page}/?via=live&live={live}"


def stop_live(process: subprocess.Popen[str] | None) -> None:
    if process is not None and process.poll() is None:
        process.terminate()  # closes its sockets with 1001
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _start(free_ports: bool) -> EmulatorSuite:
    suite = EmulatorSuite(only=STACK, project_id=PROJECT_ID, fixed_ports=not free_ports)
    print(f"starting emulators ({','.join(STACK)}); log: {suite.log_path}", flush=True)
    suite.start()
    print(f"emulators ready in {suite.startup_seconds:.1f} s", flush=True)
    return suite


def _terminate_on_sigterm() -> None:
    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)
    # A shell that started us in the background ignores SIGINT; Ctrl-C must still stop us.
    signal.signal(signal.SIGINT, signal.default_int_handler)


def up(args: argparse.Namespace) -> int:
    _terminate_on_sigterm()
    suite = _start(args.free_ports)
    live = None
    try:
        if args.seed:
            seed(suite)
        live, address = start_live(suite)
        print(describe(suite), flush=True)
        if links := demo_links(suite, address):
            print(links, flush=True)
        print("Ctrl-C stops everything. Emulator output follows.", flush=True)
        with open(suite.log_path, "rb") as log:
            while suite.process is not None and suite.process.poll() is None:
                chunk = log.read()
                if chunk:
                    sys.stdout.write(chunk.decode(errors="replace"))
                    sys.stdout.flush()
                else:
                    time.sleep(0.2)
        print(f"firebase-tools exited; see {suite.log_path}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping emulators", flush=True)
        return 0
    finally:
        stop_live(live)
        suite.stop()


def exec_command(args: argparse.Namespace) -> int:
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        print("usage: exec [--seed] -- CMD...", file=sys.stderr)
        return 2
    _terminate_on_sigterm()
    suite = _start(args.free_ports)
    try:
        if args.seed:
            seed(suite)
        return subprocess.run(command, env={**os.environ, **stack_env(suite)}).returncode
    except KeyboardInterrupt:
        return 130
    finally:
        suite.stop()


def token(args: argparse.Namespace) -> int:
    host = os.environ.get("FIREBASE_AUTH_EMULATOR_HOST") or _configured_host("auth")
    try:
        project = os.environ.get("GCLOUD_PROJECT", PROJECT_ID)
        print(AuthEmulator(host, project).id_token(args.uid))
    except (OSError, RuntimeError) as error:
        print(
            f"error: no Auth emulator at {host} ({error}); start it with ./dev up", file=sys.stderr
        )
        return 1
    return 0


def _configured_host(emulator: str) -> str:
    config = json.loads((project_root() / "firebase.json").read_text())["emulators"][emulator]
    return f"{config.get('host', '127.0.0.1')}:{config['port']}"


def firestore_jar(args: argparse.Namespace) -> int:
    launcher = firestore_launcher(project_root())
    if launcher is None:
        return 1
    print(launcher)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.stack", description=__doc__)
    commands = parser.add_subparsers(dest="action", required=True)
    for name, func in (("up", up), ("exec", exec_command)):
        sub = commands.add_parser(name)
        sub.add_argument(
            "--free-ports",
            action="store_true",
            help="pick free ports instead of the ones in firebase.json",
        )
        sub.set_defaults(func=func)
    commands.choices["up"].add_argument("--no-seed", dest="seed", action="store_false")
    commands.choices["exec"].add_argument("--seed", action="store_true")
    commands.choices["exec"].add_argument("command", nargs=argparse.REMAINDER)
    sub = commands.add_parser("token", help="print an ID token for UID from the Auth emulator")
    sub.add_argument("uid")
    sub.set_defaults(func=token)
    commands.add_parser(
        "firestore-jar", help="write the Firestore launcher jar, print its path"
    ).set_defaults(func=firestore_jar)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except EmulatorError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
