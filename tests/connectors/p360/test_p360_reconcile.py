"""Reconciliation finds drift planted in Public 360: a missing document, a duplicate case."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from connectors.p360 import P360Archive
from hub.ledger import Ledger
from hub.reconcile import reconcile
from tests.connectors.p360.conftest import case_file, journal_entry, new_key
from tests.connectors.p360.helpers import P360Direct


async def test_reconciliation_finds_missing_and_duplicate_records(p360: P360Archive, p360_direct: P360Direct,
                                                                  tmp_path: Path) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    case_new, entry_new = case_file(), journal_entry()
    case = await p360.ensure_case_file(case_new)
    entry = await p360.ensure_journal_entry(case, entry_new)
    item = ledger.ensure_item("onboarding", new_key("hire"))
    ledger.add_ref(item.id, "case_file", system="archive", kind="case_file", ref=case.system_id,
                   external_key=case_new.external_id)
    ledger.add_ref(item.id, "welcome_letter", system="archive", kind="journal_entry", ref=entry.system_id,
                   external_key=entry_new.external_id)
    ports: Any = SimpleNamespace(archive=p360)
    clean = await reconcile(ledger, ports)
    assert clean.summary()["checked"] == 2 and not clean.drift, clean.findings

    # drift: a second case under the same key (360's API refuses that; a migration did it), and the
    # welcome letter removed by hand
    other = await p360.ensure_case_file(case_file())
    p360_direct.edit("cases", int(other.system_id), ExternalId={"Id": case_new.external_id,
                                                                "Type": p360.config.external_id_type})
    p360_direct.delete("documents", int(entry.system_id))
    report = await reconcile(ledger, ports)
    kinds = sorted((f.kind, f.what) for f in report.findings)
    assert kinds == [("duplicate", f"archive case file {case_new.external_id}"),
                     ("missing", f"archive journal entry {entry_new.external_id}")], report.findings
