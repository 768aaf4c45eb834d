"""Contacts: synchronised by ExternalId without blanking what 360 already holds."""

from __future__ import annotations

from connectors.p360 import P360Archive
from connectors.p360.contacts import contact_key
from hub.ports.archive import Correspondent
from tests.connectors.p360.conftest import case_file, journal_entry, new_key
from tests.connectors.p360.helpers import P360Direct


def _email() -> str:
    return f"ola.{new_key('x').split(':')[1]}@example.org"


async def test_a_correspondent_becomes_one_contact_person(p360: P360Archive, p360_direct: P360Direct) -> None:
    email = _email()
    case = await p360.ensure_case_file(case_file())
    for _ in range(2):
        await p360.ensure_journal_entry(case, journal_entry(name="Ola Nordmann", email=email))
    [contact] = p360_direct.contact_persons(contact_key(email))
    assert (contact["FirstName"], contact["LastName"], contact["Email"]) == ("Ola", "Nordmann", email)


async def test_a_sync_keeps_what_people_added_in_360(p360: P360Archive, p360_direct: P360Direct) -> None:
    email = _email()
    case = await p360.ensure_case_file(case_file())
    await p360.ensure_journal_entry(case, journal_entry(name="Ola Nordmann", email=email))
    [contact] = p360_direct.contact_persons(contact_key(email))
    address = {"StreetAddress": "Pilestredet 46", "ZipCode": "0167", "ZipPlace": "Oslo", "Country": "NOR"}
    p360_direct.edit_contact(contact["Recno"], MobilePhone="+47 99 99 99 99", PostAddress=address,
                             MiddleName="Kristian")
    # the hub knows a new last name but nothing of phone, address or middle name
    await p360.ensure_journal_entry(case, journal_entry(name="Ola Nordmann-Hansen", email=email))
    [after] = p360_direct.contact_persons(contact_key(email))
    assert after["Recno"] == contact["Recno"]
    assert after["LastName"] == "Nordmann-Hansen"
    assert after["MobilePhone"] == "+47 99 99 99 99" and after["PostAddress"] == address
    assert after["MiddleName"] == "Kristian"


async def test_nothing_new_means_no_sync_at_all(p360: P360Archive, p360_direct: P360Direct) -> None:
    email = _email()
    person = Correspondent(kind="EM", name="Ola Nordmann", email=email)
    first = await p360.contacts.ensure(person)
    [stored] = p360_direct.contact_persons(contact_key(email))
    p360_direct.edit_contact(stored["Recno"], LastChangedDate="2000-01-01T00:00:00")
    assert await p360.contacts.ensure(person) == first
    [after] = p360_direct.contact_persons(contact_key(email))
    assert after["LastChangedDate"] == "2000-01-01T00:00:00"


def test_the_sandbox_really_blanks_what_a_sync_leaves_out(p360_direct: P360Direct) -> None:
    """The trap the adapter avoids: a bare upsert wipes stored values."""
    key = f"hub:{_email()}"
    p360_direct.call("ContactService", "SynchronizeContactPerson", ExternalId=key, FirstName="A", LastName="B",
                     MobilePhone="123")
    p360_direct.call("ContactService", "SynchronizeContactPerson", ExternalId=key, FirstName="A", LastName="B")
    [contact] = p360_direct.contact_persons(key)
    assert contact["MobilePhone"] is None
