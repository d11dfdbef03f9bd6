"""The exporter's logs in promslog's formats (``--log.format`` logfmt or json)."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any

__all__ = ["kv", "setup_logging"]


class _Logfmt(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = {"time": _timestamp(record), "level": _level(record), "msg": record.getMessage()}
        fields.update(getattr(record, "kv", {}))
        return " ".join(f"{k}={_logfmt_value(v)}" for k, v in fields.items())


class _Json(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = {"time": _timestamp(record), "level": _level(record), "msg": record.getMessage()}
        fields.update(getattr(record, "kv", {}))
        return json.dumps(fields, default=str)


def _timestamp(record: logging.LogRecord) -> str:
    millis = int(record.msecs)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{millis:03d}Z"


def _level(record: logging.LogRecord) -> str:
    return {"WARNING": "warn", "CRITICAL": "error"}.get(record.levelname, record.levelname.lower())


def _logfmt_value(value: object) -> str:
    text = str(value).lower() if isinstance(value, bool) else str(value)
    if not text or re.search(r'[\s"=]', text):
        return json.dumps(text)
    return text


def setup_logging(level: str, fmt: str) -> None:
    """One stderr handler in promslog's formats for the exporter's and uvicorn's logs
    (their loggers only: an application calling :func:`main` keeps its own)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Json() if fmt == "json" else _Logfmt())
    threshold = {"warn": logging.WARNING}.get(level, getattr(logging, level.upper()))
    for name in ("pychrony.exporter", "uvicorn"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.propagate = False
        # uvicorn's "Started server process" and the like only when debugging
        logger.setLevel(threshold if name != "uvicorn" or level == "debug" else logging.WARNING)


def kv(**fields: object) -> dict[str, Any]:
    return {"extra": {"kv": fields}}
