"""Fødselsnummer masking: shape-based, so typos are masked too; other numbers are kept."""

import logging
import uuid

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from hub.privacy import (
    MASK,
    MaskingFilter,
    contains_fnr,
    is_synthetic_fnr,
    is_valid_fnr,
    mask,
    remember_identifier,
)

VALID_FNR = "15076500565"  # synthetic, valid check digits


@pytest.mark.parametrize("text", [
    "fnr 15076500565 in the middle",
    "spaced 150765 00565 form",
    "dotted 150765.00565 form",
    "at the end:15076500565",
    "D-nummer 41018012345",
    "synthetic Tenor number 15876500565",
])
def test_masks_fnr_shapes(text: str) -> None:
    masked = mask(text)
    assert MASK in masked
    assert "00565" not in masked and "12345" not in masked
    assert contains_fnr(text)


@pytest.mark.parametrize("text", [
    "employee 10001 starts 2026-12-01",
    "ticket 123456789012 is longer than 11 digits",
    "a phone number 22 45 30 00",
    "a date-like 11 digits that is not a date: 99999999999",
])
def test_keeps_other_numbers(text: str) -> None:
    assert mask(text) == text
    assert not contains_fnr(text)


# A TOPdesk incident id the onboarding manager's mail carried (CI, 2026-12-05): its last group
# holds eleven date-shaped digits, and the mail was refused for a fødselsnummer it never had.
TICKET_UUID = "b19f168f-50cb-435d-a4ca-d66454146788"


@settings(max_examples=2000, deadline=None)
@given(st.uuids())
@example(uuid.UUID(TICKET_UUID))
def test_a_uuid_is_never_a_national_id(value: uuid.UUID) -> None:
    text = f"- opened the ticket 'Deliver laptop': #{value}"
    assert not contains_fnr(text) and not contains_fnr(str(value).upper())
    assert mask(text) == text


@pytest.mark.parametrize("text", [
    f"#{TICKET_UUID} fnr 15076500565",
    f"15076500565 #{TICKET_UUID}",
    "sha256 9f86d081884c7d659a2feaa0c55ad015 then fnr:15076500565",
    "fnr15076500565",  # glued to a word, still a person's number
])
def test_a_national_id_beside_a_machine_id_is_still_found(text: str) -> None:
    assert contains_fnr(text)
    assert "15076500565" not in mask(text) and MASK in mask(text)


def test_validity_is_separate_from_masking() -> None:
    assert is_valid_fnr(VALID_FNR)
    assert not is_valid_fnr("15076500566")
    assert contains_fnr("15076500566")  # a mistyped number is still personal data


def test_filter_masks_message_args_and_traceback(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.privacy")
    handler = logging.StreamHandler()
    records: list[logging.LogRecord] = []
    handler.emit = records.append  # type: ignore[method-assign]
    handler.addFilter(MaskingFilter())
    logger.addHandler(handler)
    try:
        logger.warning("employee %s has fnr %s", "10001", VALID_FNR)
        try:
            raise ValueError(f"bad {VALID_FNR}")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    text = " ".join(r.getMessage() + (r.exc_text or "") for r in records)
    assert VALID_FNR not in text
    assert "10001" in text and MASK in text


def test_masks_a_hyphenated_fnr() -> None:
    assert mask("fnr 150765-00565.") == f"fnr {MASK}."
    assert contains_fnr("150765-00565")
    assert mask("2026-12-01 and 2026-12-0112345") == "2026-12-01 and 2026-12-0112345"


@pytest.mark.parametrize(("text", "shown"), [
    ("passnummer FH1234567", f"passnummer {MASK}"),
    ("Passnummeret: 30123456, gyldig", f"Passnummeret: {MASK}, gyldig"),
    ("passport no. 12345678", f"passport no. {MASK}"),
    ("pass nr #AB1234567", f"pass nr #{MASK}"),
])
def test_masks_a_passport_number_the_text_names(text: str, shown: str) -> None:
    assert mask(text) == shown
    assert not contains_fnr(text)  # not a national id: mail and tickets may still carry it


@pytest.mark.parametrize("text", [
    "DATA1100 and s351207",  # course codes and student numbers are no passport numbers
    "it passer 12345678",  # "passer" (fits) is not "pass"
    "passport no. is missing",
    "pass ABCDEFGH",  # a passport number has digits
])
def test_keeps_text_that_only_looks_like_a_passport_number(text: str) -> None:
    assert mask(text) == text


# ---- synthetic test identities: masked and valid alike ------------------------------------------

NAV_SYNTHETIC = "05499024837"  # month + 40, valid check digits
TENOR_SYNTHETIC = "12891010026"  # Tenor: month + 80, valid check digits


@pytest.mark.parametrize("number", [NAV_SYNTHETIC, TENOR_SYNTHETIC])
def test_a_synthetic_number_is_masked_and_valid_and_told_apart(number: str) -> None:
    assert contains_fnr(number) and MASK in mask(f"fnr {number}")
    assert is_valid_fnr(number) and is_synthetic_fnr(number)
    assert not is_valid_fnr(number, synthetic=False)  # production may refuse test identities


def test_a_real_shaped_number_is_not_synthetic() -> None:
    assert is_valid_fnr(VALID_FNR, synthetic=False) and not is_synthetic_fnr(VALID_FNR)


@pytest.mark.parametrize("number", ["00000000000", "12039100100", "1503650056", "15076500566", "41138012345"])
def test_placeholders_wrong_lengths_and_bad_dates_are_not_valid(number: str) -> None:
    assert not is_valid_fnr(number)


def test_a_remembered_identifier_is_masked_wherever_it_stands_as_a_word() -> None:
    remember_identifier("ZX4481907")
    assert mask("hire with zx4481907, ok") == f"hire with {MASK}, ok"
    assert mask("AZX4481907 is another word") == "AZX4481907 is another word"
    remember_identifier("ab12")  # too short to remember: it would mask ordinary words
    assert mask("ab12 stays") == "ab12 stays"


def test_the_log_filter_masks_a_remembered_passport() -> None:
    remember_identifier("PT5550123")
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "hire %s: %s", ("10001", "PT5550123"), None)
    MaskingFilter().filter(record)
    assert record.getMessage() == f"hire 10001: {MASK}"
