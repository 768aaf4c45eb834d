"""Standard Webhooks signatures: the scheme's own test vector, freshness, rotation, replays."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.settings import OSLO
from hub.signing import (
    ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    BadSignature,
    MissingHeaders,
    ReplayGuard,
    SignatureError,
    StaleTimestamp,
    sign_headers,
    verify,
)

BODY = b'{"id":"10005","uri":"dfo:ansatte","gyldigEtter":"2026-12-01"}'
OLD = "whsec_" + base64.b64encode(b"the-old-key-0123456789abcdef").decode()
NEW = "whsec_" + base64.b64encode(b"the-new-key-0123456789abcdef").decode()


def test_the_schemes_published_test_vector() -> None:
    """The example in the Standard Webhooks specification, byte for byte."""
    headers = sign_headers(b'{"test": 2432232314}', "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                           msg_id="msg_p5jXN8AQM9LWM0D4loKWxJek",
                           timestamp=datetime.fromtimestamp(1614265330, UTC))
    assert headers == {ID_HEADER: "msg_p5jXN8AQM9LWM0D4loKWxJek", TIMESTAMP_HEADER: "1614265330",
                       SIGNATURE_HEADER: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}


def test_an_oslo_timestamp_is_signed_as_the_same_instant() -> None:
    """The library reads a datetime's wall clock as UTC; an Oslo time must not shift by 1-2 h."""
    instant = datetime(2026, 7, 1, 12, 0, tzinfo=OSLO)
    in_utc = sign_headers(BODY, NEW, msg_id="m1", timestamp=instant.astimezone(UTC))
    assert sign_headers(BODY, NEW, msg_id="m1", timestamp=instant) == in_utc
    assert in_utc[TIMESTAMP_HEADER] == str(int(instant.timestamp()))


def test_a_fresh_signature_verifies_and_returns_the_message_id() -> None:
    headers = sign_headers(BODY, NEW, msg_id="msg_1")
    assert verify(BODY, headers, [NEW]) == "msg_1"
    # Header names are case-insensitive, as in HTTP.
    assert verify(BODY, {k.title(): v for k, v in headers.items()}, [NEW]) == "msg_1"


def test_a_plain_secret_is_the_key_itself() -> None:
    """The local stack's plain secret works; it is not mistaken for base64."""
    headers = sign_headers(BODY, "sandbox-hmac-secret")
    assert verify(BODY, headers, ["sandbox-hmac-secret"])
    with pytest.raises(BadSignature):
        verify(BODY, headers, ["sandbox-hmac-secreT"])


@pytest.mark.parametrize("age,word", [(timedelta(minutes=6), "old"), (timedelta(minutes=-6), "future")])
def test_a_timestamp_outside_five_minutes_is_refused(age: timedelta, word: str) -> None:
    headers = sign_headers(BODY, NEW, timestamp=datetime.now(OSLO) - age)
    with pytest.raises(StaleTimestamp, match=word):
        verify(BODY, headers, [NEW])


def test_a_timestamp_within_five_minutes_is_accepted() -> None:
    for age in (timedelta(minutes=4, seconds=50), timedelta(minutes=-4, seconds=-50)):
        assert verify(BODY, sign_headers(BODY, NEW, msg_id="m", timestamp=datetime.now(OSLO) - age), [NEW]) == "m"


def test_rotation_any_active_secret_is_accepted_a_retired_one_is_not() -> None:
    by_old, by_new = sign_headers(BODY, OLD), sign_headers(BODY, NEW)
    assert verify(BODY, by_old, [NEW, OLD]) and verify(BODY, by_new, [NEW, OLD])
    with pytest.raises(BadSignature):
        verify(BODY, by_old, [NEW])  # after the rotation, the old secret is retired


def test_a_sender_may_sign_with_several_secrets() -> None:
    headers = sign_headers(BODY, [OLD, NEW])
    assert len(headers[SIGNATURE_HEADER].split(" ")) == 2
    assert verify(BODY, headers, [NEW]) and verify(BODY, headers, [OLD])


@pytest.mark.parametrize("change", ["body", "id", "timestamp"])
def test_any_signed_part_changed_is_refused(change: str) -> None:
    headers = sign_headers(BODY, NEW, msg_id="msg_1")
    body = BODY
    if change == "body":
        body = BODY.replace(b"10005", b"10006")
    elif change == "id":
        headers[ID_HEADER] = "msg_2"
    else:
        headers[TIMESTAMP_HEADER] = str(int(headers[TIMESTAMP_HEADER]) - 1)
    with pytest.raises(BadSignature):
        verify(body, headers, [NEW])


@pytest.mark.parametrize("signature", ["garbage", "sha256=" + "0" * 64, "v1,", "v1,@@@", "v2,abcd",
                                       "v1,a,b", "v1," + base64.b64encode(b"x" * 32).decode(), "   "])
def test_malformed_signatures_are_refused_cleanly(signature: str) -> None:
    headers = {**sign_headers(BODY, NEW), SIGNATURE_HEADER: signature}
    with pytest.raises(SignatureError):
        verify(BODY, headers, [NEW])


@pytest.mark.parametrize("missing", [ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER])
def test_a_missing_header_is_named(missing: str) -> None:
    headers = sign_headers(BODY, NEW)
    del headers[missing]
    with pytest.raises(MissingHeaders, match=missing):
        verify(BODY, headers, [NEW])


@settings(max_examples=300, deadline=None)
@given(msg_id=st.text(max_size=200), timestamp=st.text(max_size=30), signature=st.text(max_size=300),
       body=st.binary(max_size=200))
def test_hostile_headers_only_ever_give_a_signature_error(msg_id: str, timestamp: str, signature: str,
                                                          body: bytes) -> None:
    with pytest.raises(SignatureError):
        verify(body, {ID_HEADER: msg_id, TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: signature}, [NEW])


def test_replay_guard_binds_an_id_to_its_body_for_the_freshness_window() -> None:
    guard = ReplayGuard(keep=timedelta(minutes=11))
    assert guard.check("msg_1", "digest-a", at=0.0) == "new"
    assert guard.check("msg_1", "digest-a", at=10.0) == "same"
    assert guard.check("msg_1", "digest-b", at=20.0) == "conflict"
    assert guard.check("msg_1", "digest-b", at=11 * 60 + 1.0) == "new"  # forgotten once it cannot verify


def test_replay_guard_remembers_ids_loaded_after_a_restart() -> None:
    guard = ReplayGuard()
    guard.remember("msg_1", "digest-a", timedelta(minutes=3))
    guard.remember("msg_2", "digest-a", timedelta(hours=1))  # older than any valid message: skipped
    assert guard.check("msg_1", "digest-b") == "conflict"
    assert guard.check("msg_2", "digest-b") == "new"
