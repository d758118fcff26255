"""Keep secrets out of the logs: the bearer token, login links, API keys.

uvicorn's access log prints every request line, login link query included, and a
runtime error may echo what it was sent. ``RedactSecrets`` rewrites each record before
any handler formats it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

__all__ = ["REDACTED", "RedactSecrets", "install_redaction"]

REDACTED = "[redacted]"

# Query values and key-ish fields that hold secrets whatever their value is.
_PATTERNS = re.compile(
    r"(?P<key>(?:token|apiKey|api_key|accessToken|access_token|bearer)[\"']?\s*[=:]\s*[\"']?)"
    r"(?P<value>[^\s&\"',}]+)"
    r"|(?P<scheme>Bearer\s+)(?P<cred>[^\s\"',}]+)",
    re.IGNORECASE,
)
_OPENAI_KEY = re.compile(r"sk-[A-Za-z0-9_-]{8,}")


class RedactSecrets(logging.Filter):
    """Replaces known secrets and secret-looking fields in every record's message."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = {secret for secret in secrets if secret}

    def add(self, secret: str) -> None:
        if secret:
            self.secrets.add(secret)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        text = _PATTERNS.sub(
            lambda m: (m["key"] + REDACTED) if m["key"] else (m["scheme"] + REDACTED), text
        )
        return _OPENAI_KEY.sub(REDACTED, text)

    def filter(self, record: logging.LogRecord) -> bool:
        # Each piece is cleaned where it is: formatters (uvicorn's access log) read the
        # arguments one by one, so they must stay a tuple of the same length.
        if isinstance(record.msg, str):
            record.msg = self.redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(self._clean(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: self._clean(arg) for key, arg in record.args.items()}
        if record.exc_info and not record.exc_text:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True

    def _clean(self, value: object) -> object:
        return self.redact(value) if isinstance(value, str) else value


def install_redaction(redactor: RedactSecrets, loggers: Iterable[str]) -> None:
    """Put ``redactor`` on every handler of the named loggers and of the root logger
    (a filter on a logger does not see records that propagate from its children)."""
    for name in ("", *loggers):
        for handler in logging.getLogger(name).handlers:
            if redactor not in handler.filters:
                handler.addFilter(redactor)
