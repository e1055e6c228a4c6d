"""View models: front-end-ready documents derived from an aggregate of domain documents."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Self

from pydantic import ConfigDict

from .access import Access, check_access, check_wildcards_for_rules
from .documents import Document, declared
from .errors import DeclarationError
from .paths import PathTemplate
from .sources import Sources


@dataclass(frozen=True)
class ViewSpec:
    """What a ``ViewModel`` declaration recorded: where its documents live and what feeds them."""

    name: str
    template: PathTemplate
    sources: type[Sources]
    key_wildcard: str
    fan_out_wildcard: str | None
    readable_by: Access | None = None
    version: int = 1  # the shape of its documents: raised by one per change (runtime/migrate.py)

    def path(self, key: str, fan_out_value: str | None) -> str:
        values = {self.key_wildcard: key}
        if self.fan_out_wildcard is not None:
            values[self.fan_out_wildcard] = fan_out_value or ""
        return self.template.format(**values)


class ViewModel(Document):
    """A derived document, written only by boiler and read by clients.

    Declare its path, its ``Sources`` and a ``build`` classmethod. The path must use the
    root's id wildcard and may use one more wildcard to fan out one view per value::

        class MeetingSession(ViewModel, path="users/{uid}/meetingSessions/{meetingId}",
                             sources=MeetingData):
            title: str

            @classmethod
            def build(cls, data: MeetingData) -> dict[str, MeetingSession]:
                return {uid: cls(title=data.meeting.title) for uid in data.meeting.participant_ids}

    ``build`` returns ``{fan-out value: view}`` when the path fans out, else one view or
    ``None`` (no view document). ``version=`` (default 1) numbers the shape of its documents:
    raise it when the fields or ``build`` change, and ``boiler migrate`` rewrites the stored ones.
    """

    # Views are written by boiler alone: an unknown field is a bug, not data to keep.
    model_config = ConfigDict(extra="forbid")

    __view_spec__: ClassVar[ViewSpec]

    def __init_subclass__(
        cls,
        *,
        path: str | None = None,
        sources: type[Sources] | None = None,
        readable_by: Access | None = None,
        version: int = 1,
        **kwargs: Any,
    ) -> None:
        super().__init_subclass__(path=path, **kwargs)
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise DeclarationError(
                f"{cls.__name__}: version= must be a positive int (1, 2, ...), got {version!r}; "
                "start at 1 and raise it by one with each change to the view's fields or "
                "build(), then run `python -m boiler migrate`",
                code="view-version-invalid",
            )
        if path is None and sources is None:
            return  # an abstract intermediate base
        if path is None or sources is None:
            raise DeclarationError(
                f"{cls.__name__}: a view model needs both path= and sources=, e.g. "
                f'`class {cls.__name__}(ViewModel, path="users/{{uid}}/things/{{thingId}}", '
                "sources=ThingData)`",
                code="view-path-or-sources-missing",
            )
        if not (isinstance(sources, type) and issubclass(sources, Sources)):
            raise DeclarationError(
                f"{cls.__name__}: sources= must be a Sources subclass, got {sources!r}",
                code="view-sources-not-sources",
            )
        template = cls.__path_template__
        if sources.__root__ is None:  # grouped by its query: the path's one wildcard is the key
            if len(template.wildcards) != 1:
                raise DeclarationError(
                    f"{cls.__name__}: {sources.__name__} has no Root, so there is one view per "
                    f"key its query names; path {template} needs exactly one wildcard, the key",
                    code="view-path-missing-key",
                )
            key_wildcard = template.wildcards[0]
        else:
            key_wildcard = sources.__root__.template.id_wildcard or ""  # checked by Sources
        if sources.__root__ is not None and key_wildcard not in template.wildcards:
            raise DeclarationError(
                f"{cls.__name__}: path {template} must contain {{{key_wildcard}}}, "
                f"the id of the root "
                f"{sources.__root__.model.__name__}, so each aggregate owns its views",
                code="view-path-missing-key",
            )
        others = [name for name in template.wildcards if name != key_wildcard]
        if len(others) > 1:
            raise DeclarationError(
                f"{cls.__name__}: path {template} has wildcards {others} "
                f"besides {{{key_wildcard}}}; "
                "at most one may fan out (the keys of the dict build() returns)",
                code="view-path-fan-out",
            )
        check_wildcards_for_rules(cls, template)
        if readable_by is not None and not isinstance(readable_by, Access):
            raise DeclarationError(
                f'{cls.__name__}: readable_by= must be an Access, e.g. uid_in_path("uid"), '
                f"got {readable_by!r}",
                code="access-not-access",
            )
        cls.__view_spec__ = ViewSpec(
            name=cls.__name__,
            template=template,
            sources=sources,
            key_wildcard=key_wildcard,
            fan_out_wildcard=others[0] if others else None,
            readable_by=readable_by,
            version=version,
        )

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        # The access check needs pydantic's fields, which exist only after the class is built.
        super().__pydantic_init_subclass__(**kwargs)
        spec = cls.__dict__.get("__view_spec__")
        if spec is not None:
            check_access(cls, spec.readable_by, spec.template)

    @classmethod
    def build(cls, data: Any) -> dict[str, Self] | Self | None:
        """Compute this aggregate's views from its loaded sources (override in each view model)."""
        raise DeclarationError(
            f"{cls.__name__} must define `@classmethod def build(cls, data)`",
            code="view-build-missing",
        )

    @classmethod
    def spec(cls) -> ViewSpec:
        message = "{name} is not a declared view model (no path=/sources=)"
        return declared(cls, "__view_spec__", message, code="view-not-declared")  # type: ignore[no-any-return]

    @classmethod
    def build_paths(cls, data: Sources) -> dict[str, Self]:
        """``build`` normalised to ``{view document path: view}``."""
        spec = cls.spec()
        built = cls.build(data)
        if spec.fan_out_wildcard is None:
            if built is None:
                return {}
            if isinstance(built, dict):
                raise DeclarationError(
                    f"{cls.__name__}.build returned a dict but {spec.template} "
                    "has no fan-out wildcard; "
                    "return one view (or None)",
                    code="view-build-result",
                )
            return {spec.path(data.key, None): built}
        if not isinstance(built, dict):
            raise DeclarationError(
                f"{cls.__name__}.build must return {{{spec.fan_out_wildcard}: view}} because "
                f"{spec.template} fans out over {{{spec.fan_out_wildcard}}}",
                code="view-build-result",
            )
        return {spec.path(data.key, value): view for value, view in built.items()}


# pydantic evaluates its bases' annotations again for each subclass; a string costs a compile.
ViewModel.__annotations__["__view_spec__"] = ClassVar[ViewSpec]
