"""What a fresh TOPdesk sandbox holds: a branch, operator groups, processing statuses,
one person, the ``Laptop`` asset template and twelve laptops.

The laptops are the models of RT's ``Laptops`` catalog (see ``sandbox/rt/initdata.pl``):
6 × Lenovo ThinkPad T14 Gen 5, 1 × ThinkPad X1 Carbon Gen 12, 2 × Apple MacBook Air 13 M3,
1 × Apple MacBook Pro 14 M3, 1 × Dell Latitude 7450, 1 × HP EliteBook 840 G11. Ids are
UUIDs derived from names, so a reset gives the same ids again.
"""

from __future__ import annotations

import uuid
from typing import Any

__all__ = ["seed", "seed_id", "PROCESSING_STATUSES", "LIFECYCLE_STATES", "LAPTOP_FIELDS", "TEMPLATE_NAME"]

_NAMESPACE = uuid.UUID("6f1c1d0e-5b7a-4c55-9d1e-0a4f3b2c7d10")

TEMPLATE_NAME = "Laptop"

# name → (completed, closed, onHold); TOPdesk lets an administrator define these.
PROCESSING_STATUSES: dict[str, tuple[bool, bool, bool]] = {
    "Logged": (False, False, False),
    "In progress": (False, False, False),
    "Waiting for user": (False, False, True),
    "Completed": (True, False, False),
    "Closed": (True, True, False),
    "Rejected": (True, True, False),
}

# The Laptop template's dropdown "lifecycle-status".
LIFECYCLE_STATES = ("In stock", "Allocated", "In use", "Recycled", "Stolen")

# Field ids of the Laptop template (text fields unless listed in LIFECYCLE_STATES).
LAPTOP_FIELDS = ("name", "model", "serial-number", "lifecycle-status", "hub-reference")

_LAPTOPS = [
    ("LT-1001", "Lenovo ThinkPad T14 Gen 5", "PF4XK2A1"),
    ("LT-1002", "Lenovo ThinkPad T14 Gen 5", "PF4XK2B7"),
    ("LT-1003", "Lenovo ThinkPad T14 Gen 5", "PF4XK2C3"),
    ("LT-1004", "Lenovo ThinkPad T14 Gen 5", "PF4XK2D9"),
    ("LT-1005", "Lenovo ThinkPad T14 Gen 5", "PF4XK2E5"),
    ("LT-1006", "Lenovo ThinkPad T14 Gen 5", "PF4XK2F2"),
    ("LT-1007", "Lenovo ThinkPad X1 Carbon Gen 12", "PW0C9Q3M"),
    ("LT-1008", "Apple MacBook Air 13 M3", "FVFHQ3L2Q6L4"),
    ("LT-1009", "Apple MacBook Air 13 M3", "FVFHQ3L2Q6L5"),
    ("LT-1010", "Apple MacBook Pro 14 M3", "C02ZK1MDMD6T"),
    ("LT-1011", "Dell Latitude 7450", "7KX2Y84"),
    ("LT-1012", "HP EliteBook 840 G11", "5CG4211XYZ"),
]


def seed_id(kind: str, name: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{kind}:{name}"))


def seed(now: str) -> dict[str, Any]:
    """The initial data; ``now`` is a TOPdesk timestamp for creation dates."""
    branch = {"id": seed_id("branch", "OsloMet"), "name": "OsloMet", "clientReferenceNumber": "OSLOMET",
              "timeZone": "Europe/Oslo", "email": "post@oslomet.no"}
    groups = {seed_id("operatorgroup", name): {"id": seed_id("operatorgroup", name), "groupName": name}
              for name in ("User accounts", "Equipment")}
    statuses = {seed_id("processingstatus", name): {"id": seed_id("processingstatus", name), "name": name,
                                                     "completed": done, "closed": closed, "onHold": hold}
                for name, (done, closed, hold) in PROCESSING_STATUSES.items()}
    template = {"id": seed_id("template", TEMPLATE_NAME), "text": TEMPLATE_NAME, "icon": "laptop",
                "fields": list(LAPTOP_FIELDS), "choices": {"lifecycle-status": list(LIFECYCLE_STATES)}}
    assets = {}
    for name, model, serial in _LAPTOPS:
        asset_id = seed_id("asset", name)
        assets[asset_id] = {"id": asset_id, "templateId": template["id"], "archived": False,
                            "etag": f"{now}#0", "version": 0, "modificationDate": now, "creationDate": now,
                            "fields": {"name": name, "model": model, "serial-number": serial,
                                       "lifecycle-status": "In stock", "hub-reference": ""}}
    desk = {"id": seed_id("person", "servicedesk"), "status": "person", "firstName": "Servicedesk",
            "surName": "IT", "dynamicName": "IT, Servicedesk", "email": "it.servicedesk@oslomet.no",
            "networkLoginName": "servicedesk", "tasLoginName": "", "employeeNumber": "",
            "branch": {"id": branch["id"], "name": branch["name"]}, "creationDate": now}
    return {
        "branches": {branch["id"]: branch},
        "operatorgroups": groups,
        "processing_statuses": statuses,
        "persons": {desk["id"]: desk},
        "templates": {template["id"]: template},
        "assets": assets,
        "assignments": {},
        "incidents": {},
        "progress": {},
        "counters": {},
    }
