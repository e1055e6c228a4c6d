"""The emulator helpers: standalone Firestore, rules loading, and the firebase-tools suite."""

from __future__ import annotations

import subprocess
import zipfile

import pytest
from boiler.testing import EmulatorError, EmulatorSuite, FirestoreEmulator, wait_until
from boiler.testing.emulators import (
    _manifest,
    _processes,
    firestore_launcher,
    port_open,
    stop_session,
)
from google.cloud import firestore as firestore_module

ALLOW_READS = """rules_version = '2';
service cloud.firestore {
  match /databases/{database}/documents {
    match /{document=**} { allow read: if true; }
  }
}"""


def test_write_read_round_trip(firestore: firestore_module.Client) -> None:
    room = firestore.collection("rooms").document("r1")
    room.set({"name": "Blue", "seats": 6})
    assert room.get().to_dict() == {"name": "Blue", "seats": 6}


def test_reset_clears_data(
    firestore_emulator: FirestoreEmulator, firestore: firestore_module.Client
) -> None:
    firestore.collection("rooms").document("r1").set({"name": "Blue"})
    firestore_emulator.reset()
    assert list(firestore.collection("rooms").stream()) == []


def test_each_test_starts_empty(firestore: firestore_module.Client) -> None:
    assert list(firestore.collection("rooms").stream()) == []


def test_bad_rules_give_the_compiler_message(firestore_emulator: FirestoreEmulator) -> None:
    with pytest.raises(EmulatorError, match="HTTP 400.*mismatched input 'garbage'"):
        firestore_emulator.load_rules("garbage")
    firestore_emulator.load_rules(ALLOW_READS)


def test_manifest_lines_stay_within_72_bytes() -> None:
    manifest = _manifest({"Class-Path": "file:///" + "x" * 200 + ".jar"})
    lines = manifest.split(b"\r\n")
    assert all(len(line) <= 72 for line in lines)
    assert all(line.startswith(b" ") for line in lines[1:4])
    assert b"".join(line[1:] if i else line for i, line in enumerate(lines)) == (
        b"Class-Path: file:///" + b"x" * 200 + b".jar"
    )


def test_launcher_jar_names_the_main_class() -> None:
    launcher = firestore_launcher()
    if launcher is None:
        pytest.skip("Google Cloud CLI Firestore emulator not installed (firebase-tools jar used)")
    with zipfile.ZipFile(launcher) as jar:
        assert jar.namelist() == ["META-INF/MANIFEST.MF"]
        assert b"Main-Class: com.google.cloud.datastore.emulator.firestore.CloudFirestore" in (
            jar.read("META-INF/MANIFEST.MF")
        )


def test_wait_until_reports_the_last_value() -> None:
    with pytest.raises(AssertionError, match=r"after 0.05 s .*last value: \[\]"):
        wait_until(lambda: [], timeout=0.05, interval=0.01)
    assert wait_until(lambda: "yes", timeout=1) == "yes"


@pytest.mark.suite
def test_suite_exposes_working_ports(
    emulator_suite: EmulatorSuite, suite_firestore: firestore_module.Client
) -> None:
    for name in ("firestore", "functions", "auth"):
        assert port_open("127.0.0.1", emulator_suite.ports[name]), name
    assert len(set(emulator_suite.ports.values())) == len(emulator_suite.ports)
    doc = suite_firestore.collection("toolchain_probe").document("p")
    doc.set({"ok": True})
    assert doc.get().to_dict() == {"ok": True}
    emulator_suite.reset_firestore()
    assert wait_until(lambda: not doc.get().exists, timeout=5)


def test_the_pytest_plugin_adds_only_boiler_prefixed_fixtures() -> None:
    import boiler.testing.pytest_plugin as plugin
    from _pytest.fixtures import FixtureFunctionDefinition

    names = [n for n, o in vars(plugin).items() if isinstance(o, FixtureFunctionDefinition)]
    assert names and all(name.startswith("boiler_") for name in names), names


def test_stopping_a_session_also_ends_a_process_spawned_while_it_stopped() -> None:
    """As a functions worker started during shutdown: the leader answers SIGTERM by starting
    a child in its session and exiting; nothing of the session may remain."""
    leader = subprocess.Popen(
        ["bash", "-c", "trap 'sleep 300 & echo late; exit 0' TERM; echo ready; sleep 300 & wait"],
        start_new_session=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert leader.stdout is not None and leader.stdout.readline().strip() == "ready"
    stop_session(leader, timeout=10)  # type: ignore[arg-type]  # text mode: same process
    assert leader.stdout.readline().strip() == "late"  # the straggler was started
    session = {pid for pid, (_, sid) in _processes().items() if sid == leader.pid}
    assert session == set()
