"""boiler: declare domain models, view models and commands in typed Python; get Firestore
triggers that keep every view exactly in step, and security rules that guard them."""

from __future__ import annotations

from .access import Access as Access
from .access import public as public
from .access import readable_by_claim as readable_by_claim
from .access import readable_by_field as readable_by_field
from .access import readable_by_path as readable_by_path
from .app import App as App
from .compiler import Build as Build
from .compiler import TriggerSpec as TriggerSpec
from .compiler import compile_app as compile_app
from .documents import Document as Document
from .documents import DomainModel as DomainModel
from .errors import BoilerError as BoilerError
from .errors import CommandRejected as CommandRejected
from .errors import DeclarationError as DeclarationError
from .errors import InvalidDocument as InvalidDocument
from .errors import RetriesExhausted as RetriesExhausted
from .paths import PathTemplate as PathTemplate
from .sources import Children as Children
from .sources import Join as Join
from .sources import Many as Many
from .sources import Root as Root
from .sources import Sources as Sources
from .views import ViewModel as ViewModel

__all__ = [
    "Access",
    "App",
    "BoilerError",
    "Build",
    "Children",
    "CommandRejected",
    "DeclarationError",
    "Document",
    "DomainModel",
    "InvalidDocument",
    "Join",
    "Many",
    "PathTemplate",
    "Root",
    "Sources",
    "TriggerSpec",
    "ViewModel",
    "compile_app",
    "public",
    "readable_by_claim",
    "readable_by_field",
    "readable_by_path",
]
