"""One person's personnel file is made once when several services' runs want it at once.

The chaos run found two personnel files for one employee: an onboarding and a laptop delivery
of the same person, in two processes, each found no file and made one. Here the in-memory
archive answers its lookups slowly, so the two runs' lookups overlap as they did there.
"""

from __future__ import annotations

import asyncio

import pytest

from flows.personnel_file import personnel_file_of
from hub.flowkit import work_item
from hub.ports.archive import CaseFile
from hub.ports.hr import Employee
from mappings.hire import Hire
from tests.flows.conftest import Fakes

PERSON = Employee(id="30021", first_name="Ola", last_name="Nordmann", email="olanor@oslomet.no")


async def _file_for(service: str, key: str) -> CaseFile:
    async with work_item(service, key, title=f"{service} {key}") as run:
        return await personnel_file_of(run, Hire(employee=PERSON, position=None, unit=None, manager=None),
                                       series="Personalarkiv")


async def test_an_onboarding_and_a_laptop_delivery_at_once_make_one_personnel_file(
        hub: Fakes, monkeypatch: pytest.MonkeyPatch) -> None:
    looked_up = hub.archive.find_case_files

    async def slow_lookup(external_id: str) -> list[CaseFile]:
        found = await looked_up(external_id)
        await asyncio.sleep(0.5)  # the other run's lookup comes meanwhile
        return found

    monkeypatch.setattr(hub.archive, "find_case_files", slow_lookup)
    onboarding, delivery = await asyncio.gather(_file_for("onboarding", "30021"), _file_for("laptop", "31000047"))
    assert onboarding.system_id == delivery.system_id
    assert [s.case_file.external_id for s in hub.archive.case_files.values()] == ["dfo:ansatt:30021"]
    # The lease was given back: a third run gets the same file at once.
    assert (await asyncio.wait_for(_file_for("mover", "30021:x"), 10)).system_id == onboarding.system_id
