"""Deterministic seed data for the DFØ sandbox: three org units, twelve employees.

Dates are relative to ``today`` (Europe/Oslo) so that some hires start in 3, 10 and 30
days, one started today, most started in the past and one has left. Every ``fnr`` is a
*synthetic* fødselsnummer: the month carries +40 (the convention for generated test
numbers, accepted by ``stdnum.no.fodselsnummer``), so no number can belong to a real
person; one employee has a D-nummer (day +40 as well). Check digits are correct.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from stdnum.no import fodselsnummer

__all__ = ["synthetic_fnr", "seed", "OPEN_END"]

OPEN_END = "9999-12-31"  # SAP's "no end date" in stilling/innehaver periods


def synthetic_fnr(birth: date, *, female: bool, d_number: bool = False, start: int = 123) -> str:
    """A valid synthetic fødselsnummer (month +40) or D-nummer (day +40 too) for ``birth``.

    Born 1900-1999 → individnummer 000-499; the third digit is odd for men, even for women.
    """
    day = birth.day + (40 if d_number else 0)
    prefix = f"{day:02d}{birth.month + 40:02d}{birth.year % 100:02d}"
    for offset in range(500):
        individual = (start + offset) % 500
        if (individual % 2 == 0) != female:
            continue
        base = f"{prefix}{individual:03d}"
        k1 = fodselsnummer.calc_check_digit1(base)
        if len(k1) != 1:
            continue
        k2 = fodselsnummer.calc_check_digit2(base + k1)
        if len(k2) != 1:
            continue
        number = base + k1 + k2
        if fodselsnummer.is_valid(number):
            return number
    raise ValueError(f"no synthetic number for {birth}")  # pragma: no cover


# (name, surname, username, birth, female, unit, stilling, start offset days, end offset)
_PEOPLE: list[tuple[str, str, str, date, bool, int, tuple[int, str], int, int | None]] = [
    ("Ingrid", "Sæther", "ingsae", date(1968, 3, 14), True, 10000100, (1474, "Dekan"), -2900, None),
    ("Øystein", "Ødegård", "oysode", date(1975, 11, 2), False, 10000110, (1475, "Instituttleder"), -1500, None),
    ("Åse", "Bjørnstad", "asebjo", date(1971, 6, 30), True, 10000200, (1060, "Avdelingsdirektør"), -2200, None),
    ("Håkon", "Løvås", "haklov", date(1983, 1, 21), False, 10000110, (1011, "Førsteamanuensis"), -800, None),
    ("Sigrid", "Kværnø", "sigkva", date(1990, 9, 5), True, 10000100, (1434, "Rådgiver"), 3, None),
    ("Mathias", "Brænden", "matbra", date(1996, 4, 17), False, 10000110, (1017, "Stipendiat"), 10, None),
    ("Marte", "Høiby", "marhoi", date(1988, 12, 8), True, 10000200, (1363, "Seniorkonsulent"), 30, None),
    ("Per", "Ås", "perasx", date(1959, 7, 1), False, 10000110, (1009, "Universitetslektor"), -5000, -20),
    ("Nora", "Strøm", "norstr", date(1979, 2, 27), True, 10000100, (1013, "Professor"), -3100, None),
    ("Émilie", "Dubois", "emidub", date(1992, 10, 11), True, 10000110, (1352, "Postdoktor"), 10, None),
    ("Tor Egil", "Bråten", "torbra", date(1981, 5, 19), False, 10000200, (1211, "Seksjonssjef"), -1200, None),
    ("Line", "Grønås", "lingro", date(1994, 8, 23), True, 10000200, (1065, "Konsulent"), 0, None),
]

_UNITS: list[tuple[int, str, str, int | None, str, str]] = [
    (10000100, "TKD", "Fakultet for teknologi, kunst og design", None, "2000", "Fakultet"),
    (10000110, "IT", "Institutt for informasjonsteknologi", 10000100, "2110", "Institutt"),
    (10000200, "ITAVD", "IT-avdelingen", None, "7300", "Avdeling"),
]

_CATEGORY = {1474: "Ledelse", 1475: "Ledelse", 1060: "Ledelse", 1211: "Ledelse",
             1011: "Vitenskapelig", 1013: "Vitenskapelig", 1009: "Vitenskapelig",
             1017: "Vitenskapelig", 1352: "Vitenskapelig"}


def _iso(day: date | None) -> str:
    return day.isoformat() if day else ""


def _employee(index: int, person: tuple[Any, ...], today: date) -> dict[str, Any]:
    first, last, user, birth, female, unit, (code, title), start_off, end_off = person
    employee_id = str(10001 + index)
    d_number = first == "Émilie"
    fnr = synthetic_fnr(birth, female=female, d_number=d_number, start=100 + 37 * index)
    start = today + timedelta(days=start_off)
    end = today + timedelta(days=end_off) if end_off is not None else None
    leader = title in ("Dekan", "Instituttleder", "Avdelingsdirektør")
    return {
        "id": employee_id,
        "brukerident": user,
        "dfoBrukerident": f"9900{user}",
        "eksternIdent": f"{user}@oslomet.no",
        "tittel": title,
        "fornavn": first,
        "etternavn": last,
        "fnr": fnr,
        "annenId": ([{"idType": "02", "idBeskrivelse": "Passnummer", "idNr": "19FR48213",
                      "idStartdato": "2019-03-01", "idSluttdato": "2029-02-28", "idLand": "FR"}]
                    if d_number else []),
        "fdato": birth.isoformat(),
        "kjonn": "K" if female else "M",
        "landkode": "FR" if d_number else "NO",
        "medarbeidergruppe": "1" if end_off is None and code != 1017 else "2",
        "medarbeiderundergruppe": "04" if code != 1017 else "11",
        "startdato": start.isoformat(),
        "sluttdato": _iso(end),
        "sluttarsak": "Oppsigelse fra arbeidstaker" if end else "",
        "stillingId": 30000001 + index,
        "dellonnsprosent": "100.00",
        "kostnadssted": next(u[4] for u in _UNITS if u[0] == unit),
        "organisasjonId": unit,
        "jurBedriftsnummer": 997058097,
        "pdo": "OMET",
        "tilleggsstilling": [],
        "lederflagg": leader,
        "portaltilgang": True,
        "turnustilgang": False,
        "eksternbruker": True,
        "reservasjonPublisering": user == "haklov",
        "epost": f"{user}@oslomet.no",
        "tjenestetelefon": f"6723{5000 + index:04d}",
        "mobilnummer": f"9{4100000 + 7919 * index:07d}",
        "endretDato": (min(start, today) - timedelta(days=14)).isoformat(),
        "endretKlokkeslett": "08:15:00",
        "endretInfotype": "0001",
        "endretAv": "9900HRADM",
    }


def _stilling(employee: dict[str, Any], code: int) -> dict[str, Any]:
    unit_name = next(u[1] for u in _UNITS if u[0] == employee["organisasjonId"])
    return {
        "id": employee["stillingId"],
        "stillingsnavn": f"{employee['tittel']} {unit_name}",
        "stillingskode": code,
        "stillingstittel": employee["tittel"],
        "organisasjonId": employee["organisasjonId"],
        "yrkeskode": "",
        "yrkeskodetekst": "",
        "innehaver": [{"innehaverAnsattnr": employee["id"],
                       "innehaverStartdato": employee["startdato"],
                       "innehaverSluttdato": employee["sluttdato"] or OPEN_END}],
        "stillingskat": [{"stillingskatId": 50000000 + code,
                          "stillingskatStartdato": "2000-01-01",
                          "stillingskatSluttdato": OPEN_END,
                          "stillingskatBetegn": _CATEGORY.get(code, "Teknisk/administrativ")}],
    }


def seed(today: date) -> dict[str, dict[str, dict[str, Any]]]:
    """The sandbox's initial store: ``{"ansatte": {...}, "stillinger": {...}, "orgenheter": {...}}``."""
    ansatte: dict[str, dict[str, Any]] = {}
    stillinger: dict[str, dict[str, Any]] = {}
    for index, person in enumerate(_PEOPLE):
        employee = _employee(index, person, today)
        ansatte[employee["id"]] = employee
        stillinger[str(employee["stillingId"])] = _stilling(employee, person[6][0])
    orgenheter: dict[str, dict[str, Any]] = {}
    for unit_id, short, name, parent, cost, kind in _UNITS:
        leader = next(e for e in ansatte.values() if e["organisasjonId"] == unit_id and e["lederflagg"])
        orgenheter[str(unit_id)] = {
            "id": unit_id,
            "orgKortnavn": short,
            "organisasjonsnavn": name,
            "leder": [{"lederAnsattnr": leader["id"], "lederBrukerident": leader["brukerident"]}],
            "pdo": "OMET",
            "type": kind,
            "orgKostnadssted": cost,
            "authWf": [],
            "lokasjonId": "PILESTREDET",
            "dbhKode": "",
            "dbhBetegnelse": "",
            "overordnOrgenhetId": str(parent) if parent is not None else "",
        }
    return {"ansatte": ansatte, "stillinger": stillinger, "orgenheter": orgenheter}
