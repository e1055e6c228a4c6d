"""docs/architecture.md lists every module of the framework and of devtools/, and no other."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_architecture_module_list_matches_the_tree() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    listed = set(re.findall(r"^- `([\w/]+\.py)`", text, flags=re.MULTILINE))
    package = ROOT / "shared" / "boiler"
    tree = {str(p.relative_to(package.parent)) for p in package.rglob("*.py")}
    tree |= {str(p.relative_to(ROOT)) for p in (ROOT / "devtools").rglob("*.py")}
    # Listed relative to shared/boiler's subpackages ("runtime/x.py") or with "boiler/".
    normalised = {
        name if name.startswith(("boiler/", "devtools/")) else f"boiler/{name}" for name in listed
    }
    assert len(tree) > 30 and sorted(tree - normalised) == [], "modules missing from the list"
    assert sorted(normalised - tree) == [], "docs/architecture.md lists modules that do not exist"
