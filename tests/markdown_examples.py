"""The code examples of README.md and docs/*.md, as tests see them.

Every fenced block is an example. An HTML comment on the line before its fence says how it is
tested when the default for its language does not apply:

    <!-- example: continues -->              python: runs after the block before, as one program
    <!-- example: tested-by tests/X.py -->   a named test runs it (``blocks_run_by(__file__)``)
    <!-- example: output COMMAND -->         the block is what COMMAND prints (compared)
    <!-- example: not-run (REASON) -->       not run; the reason says why

Defaults: python blocks run as programs, bash blocks have every command checked (./dev and
boiler subcommands and their flags, modules, files), json blocks parse, mermaid blocks are
checked for a diagram type. Any other block needs a marker; tests/test_docs_examples.py fails on
one without.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import shlex
import subprocess
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})\s*(?P<language>[\w+-]*)\s*$")
MARKER = re.compile(r"^\s*<!--\s*example:\s*(?P<kind>[\w-]+)\s*(?P<argument>.*?)\s*-->\s*$")
KINDS = ("continues", "tested-by", "output", "not-run")
LIST_ITEM = re.compile(r"^\s*([-*+]|\d+[.)])\s")


@dataclass(frozen=True)
class Block:
    """One fenced block: where it is, its language and text, and its marker (if any)."""

    path: Path
    line: int  # of the opening fence, 1-based
    language: str
    text: str
    kind: str | None = None
    argument: str = ""

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def documents() -> list[Path]:
    """README.md and every docs/*.md."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def blocks(path: Path) -> list[Block]:
    """Every fenced block of `path`, in order, with the marker on the line before its fence."""
    found: list[Block] = []
    lines = path.read_text().splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        fence, indent = opening["fence"], len(opening["indent"])
        end = index + 1
        while end < len(lines) and not (
            lines[end].strip().startswith(fence[0] * len(fence))
            and set(lines[end].strip()) == {fence[0]}
        ):
            end += 1
        body = "\n".join(line[indent:] for line in lines[index + 1 : end])
        previous = next((line for line in reversed(lines[:index]) if line.strip()), "")
        marker = MARKER.match(previous)
        found.append(
            Block(
                path=path,
                line=index + 1,
                language=opening["language"].lower(),
                text=body + "\n",
                kind=marker["kind"] if marker else None,
                argument=marker["argument"] if marker else "",
            )
        )
        index = end + 1
    return found


def all_blocks() -> list[Block]:
    return [block for path in documents() for block in blocks(path)]


def unfenced_code(path: Path) -> list[int]:
    """Lines that start an indented code block (4 spaces after a blank line, outside a list):
    examples must be fenced so they can be tested."""
    lines = path.read_text().splitlines()
    found, in_fence, context = [], False, ""
    for number, line in enumerate(lines, start=1):
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        previous = lines[number - 2] if number > 1 else ""
        if line.startswith("    ") and line.strip() and not previous.strip():
            if not (LIST_ITEM.match(context) or context.startswith(" ")):
                found.append(number)
        if line.strip() and not line.startswith(" "):
            context = line
        elif line.strip() and LIST_ITEM.match(line):
            context = line
    return found


def blocks_run_by(test_file: str) -> list[Block]:
    """The blocks whose marker names `test_file` (pass ``__file__``)."""
    name = Path(test_file).resolve().relative_to(ROOT).as_posix()
    return [block for block in all_blocks() if block.kind == "tested-by" and block.argument == name]


# -- python


@dataclass(frozen=True)
class Program:
    """Python blocks that run as one module: a block and the `continues` blocks after it."""

    blocks: tuple[Block, ...]

    @property
    def where(self) -> str:
        return self.blocks[0].where

    def source(self) -> str:
        # Each block keeps its own line numbers in tracebacks: pad with blank lines.
        parts, line = [], 1
        for block in self.blocks:
            parts.append("\n" * (block.line - line))
            parts.append(block.text)
            line = block.line + block.text.count("\n")
        return "".join(parts)

    def load(self, name: str | None = None) -> types.ModuleType:
        """Run the program as a fresh module (registered while it runs, as an import would)."""
        name = name or f"docs_example_{self.blocks[0].path.stem}_{self.blocks[0].line}"
        module = types.ModuleType(name)
        module.__file__ = str(self.blocks[0].path)
        sys.modules[name] = module
        try:
            code = compile(self.source(), str(self.blocks[0].path), "exec")
            exec(code, module.__dict__)  # noqa: S102 - our own documentation
        finally:
            del sys.modules[name]
        return module


def programs(path: Path | None = None) -> list[Program]:
    """The python programs of one document (or of all), `not-run` blocks left out."""
    found: list[Program] = []
    for document in [path] if path else documents():
        current: list[Block] = []
        for block in blocks(document):
            if block.language != "python" or block.kind == "not-run":
                continue
            if block.kind == "continues":
                if not current:
                    raise ValueError(f"{block.where}: `continues` with no python block before")
                current.append(block)
                continue
            if current:
                found.append(Program(tuple(current)))
            current = [block]
        if current:
            found.append(Program(tuple(current)))
    return found


def program_defining(name: str) -> Program:
    """The one program that defines `name` (a class or function) at its top level."""
    pattern = re.compile(rf"^(class|def) {re.escape(name)}\b", re.MULTILINE)
    (found,) = [program for program in programs() if pattern.search(program.source())]
    return found


# -- bash


def commands(text: str) -> Iterator[list[str]]:
    """The simple commands of a shell block: continuations joined, comments and redirections
    dropped, split at ``|``, ``&&``, ``||`` and ``;``, ``$(...)`` contents as commands too."""
    for line in logical_lines(text):
        for inner in re.findall(r"\$\(([^()]*)\)", line):
            yield from commands(inner)
        line = re.sub(r"\$\(([^()]*)\)", "SUBST", line)
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|<>")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        words: list[str] = []
        skip = False
        for token in lexer:
            if skip:
                skip = False
            elif token in {"<", ">", ">>", "2>", "&>"}:
                skip = True
            elif set(token) <= set(";&|"):
                if words:
                    yield words
                words = []
            else:
                words.append(token)
        if words:
            yield words


def logical_lines(text: str) -> Iterator[str]:
    """Lines as the shell reads them: a quoted newline or a backslash-newline continues one."""
    line, quote, index = "", "", 0
    while index < len(text):
        char = text[index]
        if char == "\\" and quote != "'" and text[index + 1 : index + 2] == "\n":
            line, index = line + " ", index + 2
            continue
        if char == "\n" and not quote:
            yield line
            line = ""
        else:
            if char in "'\"" and (not quote or quote == char):
                quote = "" if quote else char
            elif char == "#" and not quote and (not line or line[-1] in " \t"):
                end = text.find("\n", index)
                index = len(text) if end < 0 else end
                continue  # a comment (apostrophes in it are no quotes)
            line += char
        index += 1
    if line.strip():
        yield line


@functools.cache
def help_text(*argv: str) -> str:
    """What ``argv --help`` prints (cached: each tool is asked once per session)."""
    done = subprocess.run(
        [*argv, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    return done.stdout + done.stderr


@functools.cache
def dev_commands() -> frozenset[str]:
    """The subcommands of ./dev: the labels of its `case` arms."""
    text = (ROOT / "dev").read_text()
    case = text[text.index('case "$command" in') :]
    return frozenset(re.findall(r"^\s+([a-z][a-z-]*)\)", case, flags=re.MULTILINE))


def boiler_commands() -> set[str]:
    usage = help_text(str(ROOT / ".venv" / "bin" / "boiler"))
    match = re.search(r"\{([a-z,-]+)\}", usage)
    return set(match[1].split(",")) if match else set()


def firebase_commands() -> set[str]:
    usage = help_text(str(ROOT / "node_modules" / ".bin" / "firebase"))
    return set(re.findall(r"^  ([a-z][\w-]*)", usage, flags=re.MULTILINE))


PATH_LIKE = re.compile(r"^(\./)?[\w.-]+(/[\w.-]+)+/?$|^[\w-]+\.(py|md|json|sh|mjs|txt|toml)$")
SYSTEM = {"cd", "export", "echo", "curl", "grep", "kill", "ss", "ps", "npm", "open", "gcloud"}


def _flags(words: list[str]) -> list[str]:
    return [word.split("=")[0] for word in words if word.startswith("--") and word != "--"]


def check_command(words: list[str]) -> list[str]:
    """What is wrong with one command: an unknown subcommand, flag, module or file."""
    while words and re.match(r"^[A-Za-z_]\w*=", words[0]):
        words = words[1:]  # VAR=value prefixes
    if not words:
        return []
    program, rest = words[0], words[1:]
    problems = [
        f"no such file: {word}"
        for word in rest
        if PATH_LIKE.match(word)
        and not word.startswith(("http", "-"))
        and "/" in word
        and word.split("/")[0] in _top_level()
        and not (ROOT / word).exists()
    ]
    if program == "./dev":
        problems += _check_dev(rest)
    elif program in {"boiler", ".venv/bin/boiler"}:
        problems += _check_boiler(rest)
    elif program in {"python", "python3", ".venv/bin/python"}:
        problems += _check_python(rest)
    elif program == "npx" and rest[:1] == ["firebase"] or program == "firebase":
        sub = rest[1:] if program == "npx" else rest
        if not (ROOT / "node_modules" / ".bin" / "firebase").exists():
            problems.append("firebase-tools is not installed: run ./dev setup")
        elif sub and not sub[0].startswith("-") and sub[0].split(":")[0] not in firebase_commands():
            problems.append(f"firebase has no command {sub[0]!r}")
    elif program not in SYSTEM and not (ROOT / program).exists():
        problems.append(f"unknown program {program!r} (not in the project, not a known tool)")
    return problems


@functools.cache
def _top_level() -> frozenset[str]:
    return frozenset(path.name for path in ROOT.iterdir())


def _check_dev(rest: list[str]) -> list[str]:
    if not rest or rest[0] not in dev_commands():
        return [f"./dev has no command {rest[:1]}; it has {sorted(dev_commands())}"]
    sub, args = rest[0], rest[1:]
    if sub == "boiler":
        return _check_boiler(args)
    if sub in {"up", "exec"}:
        own = args[: args.index("--")] if "--" in args else args
        usage = help_text(sys.executable, "-m", "devtools.stack", sub)
        problems = [f"./dev {sub} has no {flag}" for flag in _flags(own) if flag not in usage]
        if "--" in args:
            problems += check_command(args[args.index("--") + 1 :])
        return problems
    if sub == "bench":
        usage = help_text(sys.executable, "-m", "bench")
        return [f"./dev bench has no {flag}" for flag in _flags(args) if flag not in usage]
    return []


def _check_boiler(rest: list[str]) -> list[str]:
    if rest[:1] == ["--help"]:
        return []
    if not rest or rest[0] not in boiler_commands():
        return [f"boiler has no command {rest[:1]}; it has {sorted(boiler_commands())}"]
    usage = help_text(str(ROOT / ".venv" / "bin" / "boiler"), rest[0])
    return [f"boiler {rest[0]} has no {flag}" for flag in _flags(rest[1:]) if flag not in usage]


def _check_python(rest: list[str]) -> list[str]:
    if rest[:1] != ["-m"] or len(rest) < 2:
        return [f"python {' '.join(rest)}: examples run modules (python -m ...)"]
    module, args = rest[1], rest[2:]
    if importlib.util.find_spec(module) is None:
        return [f"no module {module}"]
    if module == "pytest" or not _flags(args):
        return []  # never run a module just to check it: only ask for --help to check flags
    usage = help_text(sys.executable, "-m", module)
    return [f"python -m {module} has no {flag}" for flag in _flags(args) if flag not in usage]
