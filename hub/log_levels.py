"""A log level Prefect gets wrong for the hub's runs.

Prefect's async flow engine logs the end of every run that did not complete at ERROR,
``Finished in state Suspended()`` included (its sync engine logs it at INFO). A fritak case
suspends for the case handler's decision by design, once per application: an operator reading
the run's log in the Prefect UI, or an alert on ERROR lines, must not see an error there.
:class:`SuspendedIsNotAnError` sits on the handlers (``hub/logging.yml``) and logs that line
at INFO. A run that fails, crashes or is cancelled still ends with an ERROR line.
"""

from __future__ import annotations

import logging

__all__ = ["SuspendedIsNotAnError"]

_WAITING = ("Finished in state Suspended(", "Finished in state Paused(")


class SuspendedIsNotAnError(logging.Filter):
    """Prefect's ERROR for a run that ended suspended or paused (it waits for a person) → INFO."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.ERROR and isinstance(record.msg, str) and record.msg.startswith(_WAITING):
            record.levelno, record.levelname = logging.INFO, logging.getLevelName(logging.INFO)
        return True
