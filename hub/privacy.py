"""Personal data: fødselsnummer (national identity number) and D-nummer.

A fødselsnummer is 11 digits: a birth date (DDMMYY) and five more digits. A D-nummer
adds 40 to the day; synthetic test numbers add 40 or 80 to the month. They may be used
only where secure identification is needed, so the hub keeps them out of logs, Prefect
parameters and artifacts, ticket subjects, e-mails and public archive titles.

:func:`mask` replaces anything shaped like one (11 digits, optionally written ``DDMMYY
NNNNN``, ``DDMMYY.NNNNN`` or ``DDMMYY-NNNNN``, that starts with a plausible date) with
``***********``. It masks on shape, not on check digits, so a mistyped number is masked
too. It also masks a passport number where the text says it is one ("passnummer
FH1234567", "passport no. 12345678"); without such a word a passport number cannot be told
from any other code, so it is not guessed at. :func:`contains_fnr` looks for the national
numbers only. :class:`MaskingFilter` applies :func:`mask` to every log record;
``hub/logging.yml`` installs it on every Prefect handler.
"""

from __future__ import annotations

import logging
import re

from stdnum.no import fodselsnummer

__all__ = ["MASK", "mask", "contains_fnr", "is_valid_fnr", "MaskingFilter", "install"]

MASK = "***********"

# 11 digits not part of a longer number; an optional space, dot or hyphen after the date part.
_CANDIDATE = re.compile(r"(?<![\d])(\d{6})[ .-]?(\d{5})(?![\d])")
# A passport number where the text names it: the word, an optional ":" or "#", then 6-9
# letters and digits (at least 5 of them digits, so "passport no. is missing" keeps its words).
_PASSPORT = re.compile(r"\b(?:passport|pass)(?:[ -]?(?:nummer(?:et)?|nr|no|number))?\b\.?\s*[:#]?\s*"
                       r"([A-Z0-9]{6,9})\b", re.IGNORECASE)


def _plausible_date(ddmmyy: str) -> bool:
    day, month = int(ddmmyy[0:2]), int(ddmmyy[2:4])
    if day > 40:  # D-nummer
        day -= 40
    if month > 80:  # synthetic (Tenor) numbers
        month -= 80
    elif month > 40:  # H-nummer / NAV synthetic numbers
        month -= 40
    return 1 <= day <= 31 and 1 <= month <= 12


def _replace(match: re.Match[str]) -> str:
    return MASK if _plausible_date(match.group(1)) else match.group(0)


def _replace_passport(match: re.Match[str]) -> str:
    if sum(ch.isdigit() for ch in match.group(1)) < 5:
        return match.group(0)
    keep = match.start(1) - match.start(0)
    return match.group(0)[:keep] + MASK


def mask(text: str) -> str:
    """Return ``text`` with every fødselsnummer/D-nummer-shaped number, and every passport
    number the text names as one, masked."""
    if not text or not any(ch.isdigit() for ch in text):
        return text
    return _PASSPORT.sub(_replace_passport, _CANDIDATE.sub(_replace, text))


def contains_fnr(text: str) -> bool:
    """True if ``text`` holds something shaped like a fødselsnummer or D-nummer."""
    return bool(text) and any(ch.isdigit() for ch in text) and _CANDIDATE.sub(_replace, text) != text


def is_valid_fnr(value: str) -> bool:
    """Check digits and date of a fødselsnummer or D-nummer (python-stdnum)."""
    return bool(fodselsnummer.is_valid(value))


class MaskingFilter(logging.Filter):
    """Masks fødselsnummer in the message, its arguments and any traceback text."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the record
            message = str(record.msg)
        masked = mask(message)
        if masked != message or record.args:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask(record.exc_text)
        if record.stack_info:
            record.stack_info = mask(record.stack_info)
        return True


def install(logger: logging.Logger | None = None) -> MaskingFilter:
    """Attach one :class:`MaskingFilter` to every handler of ``logger`` (root by default).

    Filters on a logger do not see records propagated from child loggers; filters on
    handlers do, so the filter goes on the handlers.
    """
    target = logger or logging.getLogger()
    flt = MaskingFilter()
    for handler in target.handlers:
        if not any(isinstance(f, MaskingFilter) for f in handler.filters):
            handler.addFilter(flt)
    return flt
