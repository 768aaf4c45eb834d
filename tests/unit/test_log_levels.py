"""A run that waits for a person ends with an INFO line, not Prefect's ERROR (hub/log_levels.py)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml

from hub.log_levels import SuspendedIsNotAnError

LOGGING_YML = Path(__file__).resolve().parents[2] / "hub" / "logging.yml"


def _record(level: int, msg: str) -> logging.LogRecord:
    return logging.LogRecord("prefect.flow_runs", level, __file__, 1, msg, None, None)


@pytest.mark.parametrize("msg", ["Finished in state Suspended(type=PAUSED)", "Finished in state Paused()"])
def test_a_run_that_waits_for_a_person_ends_at_info(msg: str) -> None:
    record = _record(logging.ERROR, msg)
    assert SuspendedIsNotAnError().filter(record)
    assert (record.levelno, record.levelname) == (logging.INFO, "INFO")


@pytest.mark.parametrize("msg", ["Finished in state Failed('Flow run encountered an exception.')",
                                 "Finished in state Crashed()", "Finished in state Cancelled()",
                                 "Suspended(type=PAUSED) could not be read"])
def test_other_errors_stay_errors(msg: str) -> None:
    record = _record(logging.ERROR, msg)
    assert SuspendedIsNotAnError().filter(record)
    assert record.levelno == logging.ERROR and record.levelname == "ERROR"


def test_every_handler_masks_and_lowers_the_suspension_line() -> None:
    config = yaml.safe_load(LOGGING_YML.read_text())
    assert config["filters"]["not_an_error"]["()"] == "hub.log_levels.SuspendedIsNotAnError"
    for name, handler in config["handlers"].items():
        assert handler.get("filters") == ["mask_fnr", "not_an_error"], name
