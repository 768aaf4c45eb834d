"""The chaos bench's hostile inputs (bench.hostile): reproducible, hostile, and shaped so the
forms accept them — a submission the form refuses would never reach the hub."""

from __future__ import annotations

import json

from bench.hostile import (
    draw,
    fnrs,
    form_submissions,
    intake_requests,
    malformed_bodies,
)
from hub.privacy import contains_fnr, is_valid_fnr
from sandbox.nettskjema.answers import build_answers
from sandbox.nettskjema.forms import FORMS


def test_the_same_seed_draws_the_same_inputs_and_another_seed_others() -> None:
    first = draw(intake_requests(), 40, seed_value=5)
    assert len(first) == 40
    assert first == draw(intake_requests(), 40, seed_value=5)
    assert first != draw(intake_requests(), 40, seed_value=6)


def test_every_submission_fits_its_form_and_carries_what_it_claims() -> None:
    submissions = draw(form_submissions(), 120, seed_value=1)
    assert {s.form for s in submissions} == {"laptop", "fritak", "rooms"}
    for submission in submissions:
        records, files = build_answers(FORMS[submission.form_id], submission.body())  # raises if refused
        assert records and all(is_valid_fnr(n) for n in submission.fnrs)
        text = json.dumps(submission.answers, ensure_ascii=False)
        if "fnr-in-text" in submission.traits:
            assert contains_fnr(text)
    carried = fnrs(submissions)
    assert len(carried) >= 30
    traits = {t for s in submissions for t in s.traits}
    assert {"markup", "email", "fnr-in-text", "fake-pdf", "date"} <= traits
    assert any(s.answers.get("email") == "kari@" or s.answers.get("feide") == "kari@" or
               s.answers.get("booker") == "kari@" for s in submissions)


def test_intake_requests_cover_forgery_and_odd_bodies() -> None:
    requests = draw(intake_requests(), 150, seed_value=2)
    assert {"none", "garbage", "stale", "foreign", "valid"} <= {r.signing for r in requests}
    assert {"fnr-id", "not-json", "huge", "wrong-types"} <= {r.kind for r in requests}
    assert any(r.must_refuse for r in requests) and any(not r.must_refuse for r in requests)
    for request in requests:
        if request.kind == "fnr-id":
            number, text = request.fnrs[0], request.body.decode()
            assert number in text or f"{number[:6]} {number[6:]}" in text
        if request.kind == "huge":
            assert len(request.body) > 64 * 1024


def test_malformed_bodies_are_not_the_json_a_client_expects() -> None:
    for body in draw(malformed_bodies(), 40, seed_value=3):
        if body.kind in ("truncated-json", "html", "empty"):
            try:
                json.loads(body.body)
            except ValueError:
                continue
            raise AssertionError(f"{body.kind} parsed as JSON: {body.body[:60]!r}")
