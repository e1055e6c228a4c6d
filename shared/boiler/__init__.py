"""boiler: declare domain models, view models and commands in typed Python; get Firestore
triggers that keep every view exactly in step, and security rules that guard them."""

from __future__ import annotations

from .access import Access as Access
from .access import auth_uid as auth_uid
from .access import document as document
from .access import field_value as field_value
from .access import has_claim as has_claim
from .access import path_param as path_param
from .access import public as public
from .access import signed_in as signed_in
from .access import uid_in_field as uid_in_field
from .access import uid_in_path as uid_in_path
from .aggregates import KEY as KEY
from .aggregates import Avg as Avg
from .aggregates import Count as Count
from .aggregates import Max as Max
from .aggregates import Min as Min
from .aggregates import Query as Query
from .aggregates import Sum as Sum
from .aggregates import Top as Top
from .app import App as App
from .commands import Command as Command
from .compiler import compile_app as compile_app
from .documents import Document as Document
from .documents import DomainModel as DomainModel
from .errors import BoilerError as BoilerError
from .errors import CommandMisuse as CommandMisuse
from .errors import CommandRejected as CommandRejected
from .errors import DeclarationError as DeclarationError
from .errors import InvalidDocument as InvalidDocument
from .errors import RetriesExhausted as RetriesExhausted
from .paths import PathTemplate as PathTemplate
from .runtime.command_runner import CommandContext as CommandContext
from .sources import Children as Children
from .sources import Join as Join
from .sources import Many as Many
from .sources import Root as Root
from .sources import Sources as Sources
from .views import ViewModel as ViewModel

__all__ = [
    "KEY",
    "Access",
    "App",
    "Avg",
    "Count",
    "Max",
    "Min",
    "Query",
    "Sum",
    "Top",
    "BoilerError",
    "Children",
    "Command",
    "CommandContext",
    "CommandMisuse",
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
    "ViewModel",
    "auth_uid",
    "compile_app",
    "document",
    "field_value",
    "has_claim",
    "path_param",
    "public",
    "signed_in",
    "uid_in_field",
    "uid_in_path",
]
