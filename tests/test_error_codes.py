"""Every error code the source raises is listed in docs/errors.md, and nothing else is."""

from __future__ import annotations

import re
from pathlib import Path

from boiler import BoilerError, DeclarationError

ROOT = Path(__file__).resolve().parent.parent
# code="..." where an error is raised, code = "..." / code: str = "..." on an error class
RAISED = re.compile(r'\bcode(?:: str)?\s*=\s*"([^"]*)"')
LISTED = re.compile(r"^\| `([^`]+)` \|", re.MULTILINE)
KEBAB = re.compile(r"^[a-z]+(?:-[a-z]+)*$")


def raised_codes() -> set[str]:
    return {
        code
        for path in (ROOT / "shared" / "boiler").rglob("*.py")
        for code in RAISED.findall(path.read_text())
    }


def listed_codes() -> set[str]:
    text = (ROOT / "docs" / "errors.md").read_text()
    classes, codes = text.split("## Codes", 1)
    by_class = set(re.findall(r"^\| `\w+` \| `([^`]+)` \|", classes, re.MULTILINE))
    return by_class | set(LISTED.findall(codes))


def test_every_code_is_kebab_case_and_listed_in_docs_errors() -> None:
    raised = raised_codes()
    assert len(raised) >= 30
    assert all(KEBAB.match(code) for code in raised), sorted(raised)
    assert raised - listed_codes() == set(), "add these codes to docs/errors.md"


def test_docs_errors_lists_no_code_the_source_does_not_raise() -> None:
    assert listed_codes() - raised_codes() == set()


def test_every_boiler_error_has_a_code() -> None:
    assert BoilerError("x").code == "boiler-error"
    assert DeclarationError("x", code="view-path-missing-key").code == "view-path-missing-key"
    classes = [BoilerError, *BoilerError.__subclasses__()]
    assert all(KEBAB.match(cls.code) for cls in classes)
    assert len({cls.code for cls in classes}) == len(classes)


def test_docs_api_lists_every_problem_the_http_api_declares() -> None:
    from boiler.api.problems import PROBLEMS

    text = (ROOT / "docs" / "api.md").read_text().split("## Errors", 1)[1]
    rows = re.findall(r"^\| `([^`]+)` \| (\d{3}) \| (.+) \|$", text, re.MULTILINE)
    assert {code: (int(status), meaning) for code, status, meaning in rows} == PROBLEMS
    assert all(KEBAB.match(code) for code in PROBLEMS)
