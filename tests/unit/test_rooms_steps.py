"""Room booking steps with a hostile booker address, on stand-in ports: the mail stand-in
builds each message with the SMTP connector's ``build_message``, as the stack would."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest

from connectors.smtp.message import build_message
from flows.rooms_steps import handle_booking
from hub.errors import InvalidInput
from hub.ports.forms import Submission
from hub.ports.mail import OutgoingMail
from hub.settings import get_settings
from tests.mappings.test_rooms import NOW, ROOMS, submission


class FakeRun:
    def __init__(self, sub: Submission) -> None:
        self.sent: list[OutgoingMail] = []
        self.settings = get_settings()
        self.item = SimpleNamespace(source_key=str(sub.meta.submission_id), id=1)
        self.ports = SimpleNamespace(forms=SimpleNamespace(get_submission=self._submission),
                                     mail=SimpleNamespace(send=self._send))
        self._sub = sub

    async def _submission(self, submission_id: int) -> Submission:
        return self._sub

    async def _send(self, mail: OutgoingMail) -> str:
        self.sent.append(mail)
        return str(build_message(mail, "tjenesteplattform@oslomet.no")["Message-ID"])

    @contextlib.asynccontextmanager
    async def step(self, name: str) -> AsyncIterator[None]:
        yield

    def ref(self, name: str) -> str | None:
        return None

    async def remember(self, name: str, **details: Any) -> None:
        pass


async def test_a_booker_without_a_usable_address_gets_no_mail_and_the_dead_letter_says_so() -> None:
    """``kari@`` was sent a rejection, which crashed the SMTP header parser (IndexError)."""
    run = FakeRun(submission(booker="kari@"))
    with pytest.raises(InvalidInput) as caught:
        await handle_booking(run, ROOMS, NOW)  # type: ignore[arg-type]
    assert "'kari@' is not a Feide id" in caught.value.message
    assert "nobody was told" in caught.value.hint
    assert run.sent == []


async def test_a_booker_with_an_address_is_told_why() -> None:
    run = FakeRun(submission(booker="kari@oslomet.no", purpose=""))
    with pytest.raises(InvalidInput) as caught:
        await handle_booking(run, ROOMS, NOW)  # type: ignore[arg-type]
    assert "told by e-mail" in caught.value.hint
    assert [m.to for m in run.sent] == [("kari@oslomet.no",)]
