"""Golden files: a mapping's output is compared with a reviewed JSON file.

Run ``pytest tests/mappings --update-golden`` after an intended change, then review the diff.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, SecretStr

from hub.ports.hr import Employee, OrgUnit, Position
from hub.settings import OSLO
from mappings.hire import Hire

GOLDEN = Path(__file__).parent / "golden"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="rewrite golden files")


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return _plain(value.model_dump(mode="python"))
    if isinstance(value, bytes):
        return "<bytes: checked by the PDF tests>"
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, SecretStr):
        return str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


@pytest.fixture
def golden(request: pytest.FixtureRequest):
    def check(name: str, value: Any) -> None:
        path = GOLDEN / f"{name}.json"
        actual = json.dumps(_plain(value), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
        if request.config.getoption("--update-golden"):
            path.write_text(actual, encoding="utf-8")
        if not path.exists():
            pytest.fail(f"no golden file {path.name}; run pytest --update-golden and review it")
        assert actual == path.read_text(encoding="utf-8"), f"{name} differs from {path}"

    return check


@pytest.fixture
def hire() -> Hire:
    employee = Employee(
        id="10007", first_name="Åse Marie", last_name="Østby-Ærø", national_id=SecretStr("15076500565"),
        birth_date=date(1965, 7, 15), username="asmost", email="asmost@oslomet.no", position_id="30007",
        org_unit_id="50100", title="Førsteamanuensis", start_date=date(2026, 12, 1), is_manager=False)
    manager = Employee(id="10001", first_name="Kari", last_name="Nordmann", username="karnor",
                       email="karnor@oslomet.no", org_unit_id="50100", is_manager=True)
    return Hire(employee=employee,
                position=Position(id="30007", title="Førsteamanuensis", org_unit_id="50100", percentage=100),
                unit=OrgUnit(id="50100", name="Institutt for informasjonsteknologi", manager_id="10001"),
                manager=manager)


@pytest.fixture
def letter_date() -> datetime:
    return datetime(2026, 11, 26, 9, 30, tzinfo=OSLO)
