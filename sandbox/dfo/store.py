"""The DFØ sandbox's data: one JSON file in ``--data-dir``, seeded on first start.

Runtime additions (``POST /_sandbox/ansatte``) are written back at once, so they survive
a restart. Writes go to a temporary file that then replaces the store (never half-written).
"""

from __future__ import annotations

import json
import os
import threading
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sandbox.dfo.seed import OPEN_END, seed

__all__ = ["DfoStore", "OSLO"]

OSLO = ZoneInfo("Europe/Oslo")

_DEFAULTS: dict[str, Any] = {
    "brukerident": "", "dfoBrukerident": "", "eksternIdent": "", "tittel": "", "fornavn": "",
    "etternavn": "", "fnr": "", "annenId": [], "fdato": "", "kjonn": "", "medarbeidergruppe": "1",
    "medarbeiderundergruppe": "04", "startdato": "", "sluttdato": "", "dellonnsprosent": "100.00",
    "kostnadssted": "", "tilleggsstilling": [], "lederflagg": False, "eksternbruker": True,
    "reservasjonPublisering": False, "epost": "", "tjenestetelefon": "", "mobilnummer": "",
}


class DfoStore:
    """Employees (``ansatte``), positions (``stillinger``) and org units (``orgenheter``)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "dfo.json"
        self._lock = threading.Lock()
        if self.path.exists():
            self.data: dict[str, dict[str, dict[str, Any]]] = json.loads(self.path.read_text("utf-8"))
        else:
            self.data = seed(datetime.now(OSLO).date())
            self._save()

    def _save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(tmp, self.path)

    def ansatt(self, employee_id: str) -> dict[str, Any] | None:
        return self.data["ansatte"].get(_key(employee_id))

    def stilling(self, stilling_id: str) -> dict[str, Any] | None:
        return self.data["stillinger"].get(_key(stilling_id))

    def orgenhet(self, org_id: str) -> dict[str, Any] | None:
        return self.data["orgenheter"].get(_key(org_id))

    def all_ansatte(self) -> list[dict[str, Any]]:
        return sorted(self.data["ansatte"].values(), key=lambda e: int(str(e["id"])))

    def put_ansatt(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Add or replace an employee; assign ``id`` and a position if absent. Stored as given."""
        with self._lock:
            employee = {**_DEFAULTS, **payload}
            if not employee.get("id"):
                employee["id"] = str(max((int(_key(k)) for k in self.data["ansatte"] if _key(k).isdigit()),
                                         default=10000) + 1)
            employee["id"] = str(employee["id"])
            if not employee.get("organisasjonId"):
                employee["organisasjonId"] = int(next(iter(self.data["orgenheter"])))
            if not employee.get("stillingId"):
                employee["stillingId"] = max((int(k) for k in self.data["stillinger"]), default=30000000) + 1
            self._ensure_stilling(employee)
            self.data["ansatte"][_key(employee["id"])] = employee  # "05001234" is found as 5001234
            self._save()
            return employee

    def set_end_date(self, employee_id: str, sluttdato: str) -> dict[str, Any]:
        """Set (a date) or withdraw (``""``) an employee's end date, in the stilling's holder too."""
        with self._lock:
            employee = self.data["ansatte"][_key(employee_id)]
            employee["sluttdato"] = sluttdato
            employee["sluttarsak"] = "Oppsigelse fra arbeidstaker" if sluttdato else ""
            self._changed(employee)
            self._ensure_stilling(employee)
            self._save()
            return employee

    def move(self, employee_id: str, org_id: str) -> dict[str, Any]:
        """Move an employee (and their stilling) to another unit."""
        with self._lock:
            employee = self.data["ansatte"][_key(employee_id)]
            unit = self.data["orgenheter"][_key(org_id)]
            employee["organisasjonId"] = unit["id"]
            employee["kostnadssted"] = unit.get("orgKostnadssted") or employee.get("kostnadssted", "")
            stilling = self.data["stillinger"].get(str(employee["stillingId"]))
            if stilling is not None:
                stilling["organisasjonId"] = unit["id"]
            self._changed(employee)
            self._save()
            return employee

    def put_orgenhet(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Add or replace an org unit (e.g. one on another campus, ``lokasjonId``)."""
        with self._lock:
            unit_id = int(str(payload["id"]))
            leader = payload.get("lederAnsattnr")
            leader_user = (self.ansatt(str(leader)) or {}).get("brukerident", "") if leader else ""
            unit = {"id": unit_id, "orgKortnavn": payload.get("orgKortnavn") or "",
                    "organisasjonsnavn": str(payload["organisasjonsnavn"]),
                    "leder": [{"lederAnsattnr": str(leader), "lederBrukerident": leader_user}] if leader else [],
                    "pdo": "OMET", "type": payload.get("type") or "Institutt",
                    "orgKostnadssted": payload.get("orgKostnadssted") or "", "authWf": [],
                    "lokasjonId": payload.get("lokasjonId") or "PILESTREDET", "dbhKode": "", "dbhBetegnelse": "",
                    "overordnOrgenhetId": str(payload.get("overordnOrgenhetId") or "")}
            self.data["orgenheter"][str(unit_id)] = unit
            self._save()
            return unit

    @staticmethod
    def _changed(employee: dict[str, Any]) -> None:
        now = datetime.now(OSLO)
        employee["endretDato"] = now.date().isoformat()
        employee["endretKlokkeslett"] = now.strftime("%H:%M:%S")

    def _ensure_stilling(self, employee: dict[str, Any]) -> None:
        key = str(employee["stillingId"])
        holder = {"innehaverAnsattnr": employee["id"],
                  "innehaverStartdato": employee.get("startdato") or "",
                  "innehaverSluttdato": employee.get("sluttdato") or OPEN_END}
        stilling = self.data["stillinger"].get(key)
        if stilling is None:
            title = employee.get("tittel") or "Rådgiver"
            self.data["stillinger"][key] = {
                "id": employee["stillingId"], "stillingsnavn": title, "stillingskode": 1434,
                "stillingstittel": title, "organisasjonId": employee["organisasjonId"],
                "yrkeskode": "", "yrkeskodetekst": "", "innehaver": [holder], "stillingskat": [],
            }
            return
        holders = [h for h in stilling.get("innehaver") or [] if isinstance(h, dict)
                   and h.get("innehaverAnsattnr") != employee["id"]]
        stilling["innehaver"] = [*holders, holder]


def _key(value: str) -> str:
    """DFØ ids are numbers; ``00010001`` and ``10001`` name the same object."""
    value = value.strip()
    return str(int(value)) if value.isdigit() else value
