"""One person's personnel file (personalmappe: the saksmappe, or case file, that holds
everything the employer archives about one employee), created once however many runs want it.

Onboarding, laptop delivery, the mover and the leaver each file into it, and any of them may
be the first. Two runs that ask at the same moment would both find no file and each make one
(the chaos run found two personnel files for one employee: onboarding and a laptop delivery
of the same person, in two processes). So they take turns, per person: a lease in the ledger
across processes and workers (:mod:`hub.leases`) and, inside one batch, the batch's order.
"""

from __future__ import annotations

from hub.flowkit import Run
from hub.leases import held
from hub.ports.archive import CaseFile
from mappings.dfo_to_noark import personnel_case_file
from mappings.hire import Hire

__all__ = ["personnel_file_of"]


async def personnel_file_of(run: Run, hire: Hire, *, series: str) -> CaseFile:
    """The person's personnel file in the archive: found, or created once and confirmed."""
    new = personnel_case_file(hire, series=series)
    async with run.in_order(("personnel file", hire.employee.id)), held(
            run.ledger, f"lease:{new.external_id}", what=f"the personnel file {new.external_id} was still "
                                                         "being found or created by another run",
            hint="The hub tries again by itself; if this repeats, look in Prefect for a stuck run of this "
                 "person (onboarding, laptop-delivery, mover or leaver)."):
        return await run.ports.archive.ensure_case_file(new)
