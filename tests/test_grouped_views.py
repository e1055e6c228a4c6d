"""An aggregate view grouped by its query (no Root): one view per key its documents name,
existing while some document counts in it. Real pipelines on the emulator, against the
oracle's from-scratch recount after every change."""

from __future__ import annotations

import uuid

import pytest
from boiler import (
    KEY,
    App,
    Count,
    DeclarationError,
    DomainModel,
    Query,
    Sources,
    Sum,
    Top,
    ViewModel,
    compile_app,
)
from boiler.runtime.tally_pipeline import pipeline_for
from boiler.testing.oracle import expected_views, stored_views
from google.cloud import firestore


class Post(DomainModel, path="posts/{postId}"):
    tags: list[str] = []
    likes: int = 0
    published: bool = True


tagged = Query(Post).where("tags", "array-contains", KEY).where("published", "==", True)


class TagData(Sources):
    posts: int = Count(tagged)
    likes: int = Sum(tagged, "likes")
    best: dict[str, Post] = Top(tagged, 2, by=("-likes",), fields=("likes",))


class TagBoard(ViewModel, path="tagBoards/{tag}", sources=TagData):
    tag: str
    posts: int
    likes: int
    best: list[str]

    @classmethod
    def build(cls, data: TagData) -> TagBoard:
        return cls(tag=data.key, posts=data.posts, likes=data.likes, best=list(data.best))


BUILD = compile_app(App("tags", domain=[Post], views=[TagBoard]))


def write(db: firestore.Client, post: str, fields: dict | None) -> None:
    path = f"posts/{post}"
    if fields is None:
        db.document(path).delete()
    else:
        db.document(path).set(fields)
    for trigger in BUILD.triggers:
        pipeline_for(trigger, client=db).handle(uuid.uuid4().hex, path)


def boards(db: firestore.Client) -> dict:
    stored = stored_views(TagBoard, db)
    assert stored == expected_views(TagBoard, db)
    return {path.split("/")[1]: view for path, view in stored.items()}


def test_one_view_per_key_while_documents_count_in_it(firestore: firestore.Client) -> None:
    db = firestore
    assert [t.name for t in BUILD.triggers] == ["tag_board_on_post"]  # no root to listen to
    write(db, "p1", {"tags": ["a", "b"], "likes": 3})
    write(db, "p2", {"tags": ["a"], "likes": 5})
    write(db, "p3", {"tags": ["a"], "likes": 1})
    assert boards(db) == {
        "a": {"tag": "a", "posts": 3, "likes": 9, "best": ["p2", "p1"]},
        "b": {"tag": "b", "posts": 1, "likes": 3, "best": ["p1"]},
    }
    write(db, "p1", {"tags": ["a"], "likes": 3, "published": False})  # leaves both
    assert set(boards(db)) == {"a"}  # b has no post left: its view is gone
    assert boards(db)["a"]["best"] == ["p2", "p3"]  # refilled past the one that left
    write(db, "p2", None)
    write(db, "p3", {"tags": ["c"], "likes": 1})
    assert set(boards(db)) == {"c"}


def test_a_grouped_view_path_has_exactly_one_wildcard() -> None:
    with pytest.raises(DeclarationError) as raised:

        class Broken(ViewModel, path="tags/{tag}/boards/{other}", sources=TagData):
            tag: str

    assert raised.value.code == "view-path-missing-key"
    assert "exactly one wildcard" in str(raised.value)


def test_only_aggregates_may_go_without_a_root() -> None:
    with pytest.raises(DeclarationError, match="declares 0 Root"):
        type("Empty", (Sources,), {})
