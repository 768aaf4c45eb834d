"""NettskjemaForms against the real sandbox: decoding every element type, the high-water
mark, files and PDFs, retries on 429/503, and the errors an operator sees."""

from __future__ import annotations

import base64
import io
import time
from datetime import date, timedelta
from decimal import Decimal

import pypdf
import pytest
from stdnum.no import fodselsnummer

from hub.errors import ConfigError, NotFound
from hub.ports.forms import FormsPort, Submission
from sandbox.nettskjema.forms import FRITAK_FORM_ID, LAPTOP_FORM_ID, UNSHARED_FORM_ID
from sandbox.procs import Proc
from tests.connectors.nettskjema.conftest import MakeForms, arm_fault, armed_faults, submit


async def ids_after(make_forms: MakeForms, form_id: int, after: int | None) -> list[int]:
    async with make_forms() as forms:
        return [meta.submission_id async for meta in forms.submissions_after(form_id, after)]


async def fetch(make_forms: MakeForms, submission_id: int) -> Submission:
    async with make_forms() as forms:
        return await forms.get_submission(submission_id)


async def test_is_a_forms_port_and_lists_shared_forms(make_forms: MakeForms) -> None:
    async with make_forms() as forms:
        port: FormsPort = forms
        listed = await port.list_forms()
        health = await port.health()
    assert [(f.form_id, f.title, f.submissions) for f in listed][:2] == [
        (LAPTOP_FORM_ID, "Bestille laptop", 6), (FRITAK_FORM_ID, "Søknad om fritak", 6)]
    assert [f.title for f in listed][2:] == ["Bestille grupperom", "Avbestille grupperom"]
    assert listed[0].open_from is not None and listed[0].open_from.utcoffset() == timedelta(hours=1)
    assert health.ok and health.system == "nettskjema" and "4 form(s)" in health.detail


async def test_decodes_the_laptop_order(make_forms: MakeForms) -> None:
    first = (await ids_after(make_forms, LAPTOP_FORM_ID, None))[0]
    sub = await fetch(make_forms, first)
    assert sub.meta.form_id == LAPTOP_FORM_ID and sub.meta.submission_id == first
    assert sub.meta.created.tzinfo is not None and sub.meta.created.utcoffset() == timedelta(hours=1)
    assert (sub.respondent_name, sub.respondent_email) == ("Sigrid Kværnø", "sigkva@oslomet.no")
    assert sub.answer("feide").text == "sigkva@oslomet.no"  # type: ignore[union-attr]
    assert sub.answer("model").options == ("thinkpad-t14",)  # type: ignore[union-attr]
    assert sub.answer("location").options == ("pilestredet",)  # type: ignore[union-attr]
    assert sub.answer("cost_centre").text == "2000"  # type: ignore[union-attr]
    needed_by = sub.answer("needed_by")
    assert needed_by is not None and isinstance(needed_by.date, date) and needed_by.date > sub.meta.created.date()
    accessories = {a.sub_element: a.options for a in sub.all("accessories")}
    assert accessories == {"dock": ("yes",), "headset": ("yes",)}
    scale = sub.answer("current_satisfaction")
    assert scale is not None and scale.number == Decimal(3) and scale.element_type == "LINEAR_SCALE"
    assert "rådgiver" in (sub.answer("justification").text or "")  # type: ignore[union-attr]


async def test_decodes_the_fritak_application(make_forms: MakeForms) -> None:
    ids = await ids_after(make_forms, FRITAK_FORM_ID, None)
    subs = [await fetch(make_forms, i) for i in ids]
    third = subs[2]
    assert third.answer("credits").number == Decimal("7.5")  # type: ignore[union-attr]
    assert third.answer("completed").date == date(2025, 1, 24)  # type: ignore[union-attr]
    assert third.answer("courses").options == ("ITPE3100",)  # type: ignore[union-attr]
    assert {a.sub_element: a.options for a in third.all("level")} == {"bachelor": ("yes",), "master": ("no",)}
    assert [(a.filename, a.media_type) for a in third.attachments] == [
        ("eksamensbevis.pdf", "application/pdf"), ("kursusbeskrivelse.pdf", "application/pdf")]
    assert subs[1].answer("courses").options == ("DATA1200", "MATA1000")  # type: ignore[union-attr]
    fnrs = [s.answer("fnr").text or "" for s in subs]  # type: ignore[union-attr]
    assert [fodselsnummer.is_valid(f) for f in fnrs] == [True, True, True, False, True, True]
    assert [len(s.attachments) for s in subs] == [1, 3, 2, 1, 0, 1]
    assert subs[5].attachments[0].media_type.endswith("wordprocessingml.document")


async def test_created_time_is_oslo_in_summer_and_winter(nettskjema: Proc, make_forms: MakeForms) -> None:
    summer = submit(nettskjema, "laptop", {"answers": {"feide": "x@oslomet.no"}, "createdDate": "2026-07-01T12:00:00"})
    created = (await fetch(make_forms, summer)).meta.created
    assert (created.hour, created.utcoffset()) == (12, timedelta(hours=2))
    assert created.isoformat() == "2026-07-01T12:00:00+02:00"


async def test_submissions_after_honours_the_high_water_mark(nettskjema: Proc, make_forms: MakeForms) -> None:
    everything = await ids_after(make_forms, FRITAK_FORM_ID, None)
    assert len(everything) >= 6 and everything == sorted(everything)
    assert await ids_after(make_forms, FRITAK_FORM_ID, everything[2]) == everything[3:]
    assert await ids_after(make_forms, FRITAK_FORM_ID, everything[-1]) == []
    added = submit(nettskjema, "fritak", {"answers": {"name": "Ny Søker"}})
    assert await ids_after(make_forms, FRITAK_FORM_ID, everything[-1]) == [added]
    assert added not in await ids_after(make_forms, LAPTOP_FORM_ID, None)


async def test_attachment_and_pdf_bytes(nettskjema: Proc, make_forms: MakeForms) -> None:
    content = b"%PDF-1.4 emnebeskrivelse \xc3\xa6\xc3\xb8\xc3\xa5"
    added = submit(nettskjema, "fritak", {
        "answers": {"name": "Åse Bråthen", "grounds": "Tidligere bestått ved NTNU"},
        "attachments": {"attachment_2": [{"filename": "emnebeskrivelse.pdf", "mediaType": "application/pdf",
                                          "contentBase64": base64.b64encode(content).decode()}]}})
    async with make_forms() as forms:
        sub = await forms.get_submission(added)
        (ref,) = sub.attachments
        assert (ref.filename, ref.media_type, ref.size) == ("emnebeskrivelse.pdf", "application/pdf", len(content))
        assert sub.answer("attachment_2").attachment == ref  # type: ignore[union-attr]
        assert await forms.get_attachment(ref.attachment_id) == content
        pdf = await forms.get_submission_pdf(added)
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    assert "Åse Bråthen" in text and "emnebeskrivelse.pdf" in text


async def test_429_with_retry_after_is_retried(nettskjema: Proc, make_forms: MakeForms) -> None:
    first = (await ids_after(make_forms, LAPTOP_FORM_ID, None))[0]
    arm_fault(nettskjema, path="/api/v3/form/submission/", status=429, count=1, retry_after=1)
    started = time.monotonic()
    sub = await fetch(make_forms, first)
    assert sub.meta.submission_id == first
    assert time.monotonic() - started >= 1.0
    assert armed_faults(nettskjema) == []


async def test_503_on_the_stream_is_retried(nettskjema: Proc, make_forms: MakeForms) -> None:
    arm_fault(nettskjema, path=f"/api/v3/form/{LAPTOP_FORM_ID}/submission-metadata", status=503, count=2,
              retry_after=0)
    assert len(await ids_after(make_forms, LAPTOP_FORM_ID, None)) >= 6
    assert armed_faults(nettskjema) == []


async def test_unshared_form_is_a_config_error_with_a_grant_hint(nettskjema: Proc, make_forms: MakeForms) -> None:
    with pytest.raises(ConfigError) as caught:
        await ids_after(make_forms, UNSHARED_FORM_ID, None)
    assert caught.value.status == 403
    assert f"{nettskjema.extra['client_id']}@apiclient" in caught.value.hint and f"form {UNSHARED_FORM_ID}" in caught.value.hint


async def test_unknown_submission_is_not_found(make_forms: MakeForms) -> None:
    async with make_forms() as forms:
        with pytest.raises(NotFound) as caught:
            await forms.get_submission(12345)
        with pytest.raises(NotFound):
            await forms.get_attachment(12345)
    assert "submission 12345" in caught.value.hint
