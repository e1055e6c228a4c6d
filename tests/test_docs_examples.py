"""Every code example in README.md and docs/*.md is tested: python programs run, shell
commands name real ./dev and boiler subcommands, flags, modules and files, json parses,
output blocks equal what their command prints, and any other block is marked with the test
that runs it or the reason it is not run (tests/markdown_examples.py says how to mark one).
The README's screenshot is made by a script this file runs against the real demo."""

from __future__ import annotations

import json
import os
import re
import shlex
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from boiler import App, compile_app
from boiler.testing import EmulatorSuite
from google.cloud import firestore

from . import markdown_examples as examples
from .markdown_examples import ROOT, Block

BLOCKS = examples.all_blocks()
SHELL = ("bash", "sh", "shell")
CHECKED_BY_DEFAULT = ("python", *SHELL, "json", "mermaid")
SCREENSHOT = ROOT / "docs" / "images" / "web-demo.png"


def ids(blocks: list[Block]) -> list[str]:
    return [block.where for block in blocks]


def of(*languages: str, kinds: tuple[str | None, ...] = (None, "tested-by")) -> list[Block]:
    return [b for b in BLOCKS if b.language in languages and b.kind in kinds]


def test_every_block_is_run_or_marked_with_a_reason() -> None:
    problems = []
    for block in BLOCKS:
        if block.kind is not None and block.kind not in examples.KINDS:
            problems.append(f"{block.where}: unknown marker {block.kind!r} ({examples.KINDS})")
        elif block.kind == "not-run" and not re.fullmatch(r"\(.{8,}\)", block.argument):
            problems.append(f"{block.where}: not-run needs a reason: not-run (why)")
        elif block.kind == "tested-by":
            test = ROOT / block.argument
            if not test.is_file() or "blocks_run_by(__file__)" not in test.read_text():
                problems.append(
                    f"{block.where}: {block.argument} does not run its tested-by blocks"
                )
        elif block.kind == "output" and not block.argument:
            problems.append(f"{block.where}: output needs the command that prints it")
        elif block.kind == "continues" and block.language != "python":
            problems.append(f"{block.where}: only python blocks continue a program")
        elif block.kind is None and block.language not in CHECKED_BY_DEFAULT:
            problems.append(
                f"{block.where}: a {block.language or 'plain'} block no test runs: mark it "
                "<!-- example: tested-by tests/X.py | output CMD | not-run (reason) -->"
            )
    for path in examples.documents():
        problems += [
            f"{path.relative_to(ROOT)}:{line}: an indented code block: fence it"
            for line in examples.unfenced_code(path)
        ]
    assert not problems, "\n".join(problems)


def test_the_docs_have_the_examples_this_suite_expects() -> None:
    """A broken parser would find nothing and pass everything else."""
    assert len(examples.programs()) >= 5
    assert len(of(*SHELL)) >= 5
    assert examples.blocks_run_by(str(ROOT / "tests" / "test_readme.py"))
    assert examples.blocks_run_by(str(ROOT / "tests" / "test_readme_api.py"))


@pytest.mark.parametrize(
    "program", examples.programs(), ids=[program.where for program in examples.programs()]
)
def test_python_examples_run(program: examples.Program) -> None:
    module = program.load()
    for app in [value for value in vars(module).values() if isinstance(value, App)]:
        compile_app(app)  # the checks that need the whole app


@pytest.mark.parametrize("block", of(*SHELL), ids=ids(of(*SHELL)))
def test_shell_examples_name_real_commands_flags_and_files(block: Block) -> None:
    found = list(examples.commands(block.text))
    assert found, f"{block.where}: no command found"
    problems = [problem for words in found for problem in examples.check_command(words)]
    assert not problems, f"{block.where}:\n" + "\n".join(problems)


def test_json_examples_parse() -> None:
    for block in of("json"):  # none today; one test, so an empty list is no skip
        try:
            json.loads(block.text)
        except ValueError as error:
            pytest.fail(f"{block.where}: {error}")


@pytest.mark.parametrize("block", of("mermaid"), ids=ids(of("mermaid")))
def test_mermaid_diagrams_are_well_formed(block: Block) -> None:
    first = block.text.lstrip().splitlines()[0]
    assert re.match(r"(flowchart|graph|sequenceDiagram|stateDiagram)", first), first
    for pair in ("()", "[]", "{}", '""'):
        count = (block.text.count(pair[0]), block.text.count(pair[1]))
        assert count[0] == count[1] if pair[0] != pair[1] else count[0] % 2 == 0, pair


OUTPUTS = [block for block in BLOCKS if block.kind == "output"]


@pytest.mark.parametrize("block", OUTPUTS, ids=ids(OUTPUTS))
def test_output_examples_are_what_their_command_prints(block: Block) -> None:
    argv = shlex.split(block.argument)
    if argv[:2] == ["./dev", "boiler"]:  # ./dev boiler is .venv/bin/boiler after set-up
        argv = [sys.executable, "-m", "boiler", *argv[2:]]
    assert not examples.check_command(shlex.split(block.argument)), block.argument
    env = {**os.environ, "COLUMNS": "100"}
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    printed = "\n".join(line.rstrip() for line in done.stdout.strip().splitlines())
    assert block.text.strip() == printed, f"{block.where}: update it to what {argv} prints"


def test_links_between_the_docs_name_files_that_exist() -> None:
    link = re.compile(r"\]\(([^)#\s]+)[^)]*\)|src=\"([^\"]+)\"")
    missing = []
    for path in examples.documents():
        for match in link.finditer(path.read_text()):
            target = match[1] or match[2]
            if re.match(r"[a-z]+:", target):
                continue  # a URL
            if not (path.parent / target).exists():
                missing.append(f"{path.relative_to(ROOT)}: {target}")
    assert not missing, missing


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def test_the_committed_screenshot_is_a_small_png() -> None:
    assert SCREENSHOT.stat().st_size < 200_000
    assert png_size(SCREENSHOT)[0] == 820


@pytest.mark.suite
def test_the_screenshot_script_drives_the_real_demo(
    chromium: str,
    emulator_suite: EmulatorSuite,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from devtools.screenshot import MAX_BYTES, capture

    for name, value in emulator_suite.env().items():
        monkeypatch.setenv(name, value)
    emulator_suite.reset_firestore()
    db = firestore.Client(project=emulator_suite.project_id)
    out = capture(db, emulator_suite.url("hosting"), tmp_path / "web-demo.png", chromium)
    assert out.stat().st_size < MAX_BYTES
    assert png_size(out)[0] == png_size(SCREENSHOT)[0]


@pytest.mark.parametrize(
    ("command", "problem"),
    [
        ("./dev deploy", "./dev has no command"),
        ("./dev boiler generate --app meeting_room --out x", "has no --out"),
        ("boiler frobnicate", "boiler has no command"),
        (".venv/bin/python -m devtools.nothing", "no module"),
        ("./dev exec -- .venv/bin/boiler pending --since 5", "has no --since"),
        ("cat tests/test_nothing.py", "unknown program"),
        ("curl tests/test_nothing.py", "no such file"),
        ("npx firebase frobnicate", "firebase has no command"),
    ],
)
def test_the_shell_checker_catches_what_it_should(command: str, problem: str) -> None:
    found = [p for words in examples.commands(command) for p in examples.check_command(words)]
    assert any(problem in p for p in found), found


def test_markers_group_programs_and_fenced_code_is_required(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(
        "Text.\n\n```python\nx = 1\n```\n\n<!-- example: continues -->\n```python\n"
        "assert x == 1\n```\n\n<!-- example: not-run (a fragment on purpose) -->\n"
        "```python\nundefined_name\n```\n\n```text\nunmarked\n```\n\n- item\n\n"
        "    continued item\n\nParagraph.\n\n    indented code\n"
    )
    found = examples.blocks(doc)
    assert [(b.language, b.kind) for b in found] == [
        ("python", None),
        ("python", "continues"),
        ("python", "not-run"),
        ("text", None),
    ]
    (program,) = examples.programs(doc)
    assert len(program.blocks) == 2
    program.load()
    assert examples.unfenced_code(doc) == [len(doc.read_text().splitlines())]
