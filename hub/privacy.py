"""Personal data: fødselsnummer (national identity number), D-nummer and passport numbers.

A fødselsnummer is 11 digits: a birth date (DDMMYY) and five more digits. A D-nummer
adds 40 to the day; synthetic test numbers add 40 or 80 to the month. They may be used
only where secure identification is needed, so the hub keeps them out of logs, Prefect
parameters and artifacts, ticket subjects, e-mails and public archive titles.

:func:`mask` replaces anything shaped like one (11 digits, optionally written ``DDMMYY
NNNNN``, ``DDMMYY.NNNNN`` or ``DDMMYY-NNNNN``, that starts with a plausible date) with
``***********``. It masks on shape, not on check digits, so a mistyped number is masked
too. Digits inside a UUID or a long hex string (a ticket id, a hash) are a machine's, not a
person's, and are left alone: TOPdesk's incident ids are UUIDs, and about one in a thousand
holds eleven date-shaped digits. It also masks a passport number where the text says it is one ("passnummer
FH1234567", "passport no. 12345678"); without such a word a passport number cannot be told
from any other code, so it is not guessed at — unless the hub has read it as a person's
identifier: :func:`remember_identifier` (the HR connector calls it for every ``annenId``)
makes :func:`mask` replace that exact value wherever it stands as a word, in this process,
from then on. :func:`contains_fnr` looks for the national numbers only.

:func:`is_valid_fnr` checks the date and the check digits of a fødselsnummer or D-nummer and
accepts the synthetic test numbers of Skatteetaten's Tenor (month + 80) and NAV/H-numbers
(month + 40) — the same shapes :func:`mask` hides — unless ``synthetic=False``;
:func:`is_synthetic_fnr` tells them apart (production may refuse them). :class:`MaskingFilter` applies :func:`mask` to every log record;
``hub/logging.yml`` installs it on every Prefect handler.
"""

from __future__ import annotations

import datetime
import logging
import re
import threading
from collections import OrderedDict

from stdnum.no import fodselsnummer

__all__ = ["MASK", "mask", "contains_fnr", "is_valid_fnr", "is_synthetic_fnr", "birth_date_of",
           "remember_identifier", "MaskingFilter", "install"]

MASK = "***********"

# 11 digits not part of a longer number; an optional space, dot or hyphen after the date part.
_CANDIDATE = re.compile(r"(?<![\d])(\d{6})[ .-]?(\d{5})(?![\d])")
# A UUID, or a run of 16 or more hex digits: a machine's identifier, never a person's number.
_MACHINE_ID = re.compile(r"(?<![0-9A-Za-z])(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
                         r"|[0-9a-f]{16,})(?![0-9A-Za-z])", re.IGNORECASE)
# A passport number where the text names it: the word, an optional ":" or "#", then 6-9
# letters and digits (at least 5 of them digits, so "passport no. is missing" keeps its words).
_PASSPORT = re.compile(r"\b(?:passport|pass)(?:[ -]?(?:nummer(?:et)?|nr|no|number))?\b\.?\s*[:#]?\s*"
                       r"([A-Z0-9]{6,9})\b", re.IGNORECASE)


def _day_month(ddmmyy: str) -> tuple[int, int]:
    """Day and month with the D-nummer (day + 40) and synthetic (month + 40/80) offsets removed."""
    day, month = int(ddmmyy[0:2]), int(ddmmyy[2:4])
    if day > 40:  # D-nummer
        day -= 40
    if month > 80:  # synthetic (Tenor) numbers
        month -= 80
    elif month > 40:  # H-nummer / NAV synthetic numbers
        month -= 40
    return day, month


def _plausible_date(ddmmyy: str) -> bool:
    day, month = _day_month(ddmmyy)
    return 1 <= day <= 31 and 1 <= month <= 12


def _replace(match: re.Match[str]) -> str:
    return MASK if _plausible_date(match.group(1)) else match.group(0)


def _mask_national(text: str) -> str:
    """``text`` with every fødselsnummer-shaped number masked, outside machine identifiers."""
    if not _CANDIDATE.search(text):  # most log lines: no machine identifiers to look for
        return text
    pieces, start = [], 0
    for machine in _MACHINE_ID.finditer(text):
        pieces += [_CANDIDATE.sub(_replace, text[start:machine.start()]), machine.group(0)]
        start = machine.end()
    pieces.append(_CANDIDATE.sub(_replace, text[start:]))
    return "".join(pieces)


def _replace_passport(match: re.Match[str]) -> str:
    if sum(ch.isdigit() for ch in match.group(1)) < 5:
        return match.group(0)
    keep = match.start(1) - match.start(0)
    return match.group(0)[:keep] + MASK


# Identifiers read as a person's (passport numbers from HR's annenId, a malformed fnr):
# masked wherever they appear as a word. Bounded, the oldest forgotten first; a value
# shorter than 5 characters or with fewer than 3 digits is not remembered (it would mask
# ordinary words and numbers).
_KNOWN_LIMIT = 50_000
_known: OrderedDict[str, None] = OrderedDict()
_known_lock = threading.Lock()
_WORD = re.compile(r"(?<![A-Za-z0-9])[A-Za-z0-9]{5,}(?![A-Za-z0-9])")


def _compact(value: str) -> str:
    return re.sub(r"[\s.-]", "", value).upper()


def remember_identifier(value: str | None) -> None:
    """Mask ``value`` (a passport or foreign id number a person was identified by) in every
    later :func:`mask` of this process, wherever it stands as a word of its own."""
    compact = _compact(value or "")
    if len(compact) < 5 or sum(ch.isdigit() for ch in compact) < 3 or not compact.isalnum():
        return
    with _known_lock:
        _known[compact] = None
        _known.move_to_end(compact)
        while len(_known) > _KNOWN_LIMIT:
            _known.popitem(last=False)


def _replace_known(match: re.Match[str]) -> str:
    return MASK if match.group(0).upper() in _known else match.group(0)


def mask(text: str) -> str:
    """Return ``text`` with every fødselsnummer/D-nummer-shaped number, every passport
    number the text names as one, and every remembered identifier masked."""
    if not text or not any(ch.isdigit() for ch in text):
        return text
    masked = _PASSPORT.sub(_replace_passport, _mask_national(text))
    return _WORD.sub(_replace_known, masked) if _known else masked


def contains_fnr(text: str) -> bool:
    """True if ``text`` holds something shaped like a fødselsnummer or D-nummer."""
    return bool(text) and any(ch.isdigit() for ch in text) and _mask_national(text) != text


def birth_date_of(value: str) -> datetime.date | None:
    """The birth date a fødselsnummer, D-nummer or synthetic number encodes (None if none)."""
    if len(value) != 11 or not value.isdigit():
        return None
    day, month = _day_month(value[:4])
    year, individual = int(value[4:6]), int(value[6:9])
    if individual < 500:
        year += 1900
    elif individual < 750 and year >= 54:
        year += 1800
    elif individual < 1000 and year < 40:
        year += 2000
    elif individual >= 900 and year >= 40:
        year += 1900
    else:
        return None
    try:
        return datetime.date(year, month, day)
    except ValueError:
        return None


def is_synthetic_fnr(value: str) -> bool:
    """A test identity (month + 40: NAV/H-number range; month + 80: Skatteetaten's Tenor)."""
    return len(value) == 11 and value.isdigit() and int(value[2:4]) > 40


def is_valid_fnr(value: str, *, synthetic: bool = True) -> bool:
    """Date and check digits of a fødselsnummer or D-nummer (python-stdnum's check digits);
    synthetic test numbers pass too unless ``synthetic=False``."""
    if len(value) != 11 or not value.isdigit() or (is_synthetic_fnr(value) and not synthetic):
        return False
    born = birth_date_of(value)
    if born is None or born > datetime.date.today():
        return False
    return (fodselsnummer.calc_check_digit1(value[:9]) == value[9]
            and fodselsnummer.calc_check_digit2(value[:10]) == value[10])


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
