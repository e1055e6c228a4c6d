"""Structured logs (one JSON line per outcome), the format Cloud Logging indexes."""

from __future__ import annotations

import os
from typing import Any

from firebase_functions import logger

_LEVELS = {"debug": 0, "info": 1, "warning": 2, "error": 3}
_threshold = _LEVELS.get(os.environ.get("BOILER_LOG_LEVEL", "info").lower(), 1)


def debug(event: str, **fields: Any) -> None:
    if _threshold <= 0:
        logger.debug(event, **fields)


def info(event: str, **fields: Any) -> None:
    if _threshold <= 1:
        logger.info(event, **fields)


def warning(event: str, **fields: Any) -> None:
    if _threshold <= 2:
        logger.warn(event, **fields)


def error(event: str, **fields: Any) -> None:
    logger.error(event, **fields)
