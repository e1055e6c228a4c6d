"""The README's declaration example is a working program (run against the Firestore emulator)."""

from __future__ import annotations

import re
import types
import uuid
from pathlib import Path

from boiler import compile_app
from boiler.runtime.pipeline import Pipeline
from google.cloud import firestore

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_example() -> types.ModuleType:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    (source,) = [block for block in blocks if "class CityView" in block]
    module = types.ModuleType("readme_example")
    exec(compile(source, str(README), "exec"), module.__dict__)  # noqa: S102 - our own README
    return module


def test_readme_example_compiles_to_the_triggers_it_names() -> None:
    build = compile_app(readme_example().app)
    assert {t.name for t in build.triggers} == {"city_view_on_city", "city_view_on_country"}


def test_readme_example_keeps_the_city_view_in_step(firestore: firestore.Client) -> None:
    example = readme_example()
    build = compile_app(example.app)

    def deliver(function: str, document: str) -> None:
        Pipeline(build.trigger(function), client=firestore).handle(uuid.uuid4().hex, document)

    firestore.document("countries/fr").set({"name": "France"})
    firestore.document("cities/paris").set({"cityName": "Paris", "countryId": "fr"})
    deliver("city_view_on_city", "cities/paris")
    assert firestore.document("cityViews/paris").get().to_dict() == {
        "name": "Paris",
        "country": "France",
    }

    firestore.document("countries/fr").update({"name": "République française"})
    deliver("city_view_on_country", "countries/fr")
    assert firestore.document("cityViews/paris").get().get("country") == "République française"
