"""The invariants the chaos bench checks once the storm is over (:mod:`bench.chaos`).

Each check returns a :class:`Verdict`: its name, whether it held, counts for the table and
a few concrete findings (never a fødselsnummer: findings name where, not what).
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import httpx

from bench.chaos_workload import Sent
from devtools.stack import Stack

__all__ = ["Verdict", "items_settled", "reconciliation", "nothing_held", "no_fnr_leaks", "open_work",
           "expected_items", "active_runs", "retry_pending", "numbers_in",
           "national_ids", "hostile_answers"]

@dataclass
class Verdict:
    name: str
    held: bool
    counts: dict[str, int] = field(default_factory=dict)
    findings: list[str] = field(default_factory=list)


def expected_items(sent: list[Sent], hostile: list[tuple[Any, str]]) -> set[tuple[str, str]]:
    """(service, source key) of every input that must become a work item: the workload's, and
    each hostile form submission the form accepted."""
    from bench.hostile import HostileSubmission

    keys = {(s.service, s.key) for s in sent if s.service != "-" and (s.kind != "hire" or s.answer.startswith("2"))}
    keys |= {(value.form, answer.split(":", 1)[1]) for value, answer in hostile
             if isinstance(value, HostileSubmission) and answer.startswith("201:")}
    return keys


def open_work(ledger: Any, expected: set[tuple[str, str]] = frozenset()) -> int:  # type: ignore[assignment]
    """Inputs with no work item yet, items not yet done or dead-lettered, transient dead letters
    the hub will still retry by itself, events not yet handed to Prefect."""
    from hub.ledger import ItemState

    items = ledger.items(limit=None)
    have = {(i.service, i.source_key) for i in items}
    return (len(expected - have) + sum(i.state in ItemState.OPEN or retry_pending(i) for i in items)
            + len(ledger.undispatched(older_than=timedelta(0), limit=1000)))


def open_breakdown(ledger: Any) -> str:
    """The open items by service and state (``laptop pending 12, fritak waiting 3``): what the
    settling still waits for."""
    from collections import Counter

    from hub.ledger import ItemState

    counts = Counter(f"{i.service} {'retry' if retry_pending(i) else i.state}" for i in ledger.items(limit=None)
                     if i.state in ItemState.OPEN or retry_pending(i))
    return ", ".join(f"{k} {n}" for k, n in counts.most_common()) or "none"


def retry_pending(item: Any) -> bool:
    """A transient dead letter that redrive-stuck will start again by itself
    (``HUB_RETRY_TRANSIENT_AFTER``): not settled yet — it may be running when the checks look."""
    from hub.ledger import ItemState
    from hub.recovery import retry_after
    from hub.services import catalog

    if item.state != ItemState.FAILED or item.error_kind != "transient":
        return False
    retries = int((item.data or {}).get("auto_retries", 0))
    return retries < len(retry_after()) and catalog().rerun_for(item.service) is not None


def active_runs(stack: Stack) -> list[dict[str, Any]]:
    return list(httpx.post(f"{stack.prefect_api}/flow_runs/filter", timeout=30, json={
        "limit": 200, "flow_runs": {"state": {"type": {"any_": ["RUNNING", "PENDING", "CANCELLING", "PAUSED"]}}}}).json())


def runs_breakdown(stack: Stack, runs: list[dict[str, Any]]) -> str:
    """Active runs by deployment and state (``onboarding Running 4, fritak-case Pending 2``)."""
    from collections import Counter

    ids = sorted({r["deployment_id"] for r in runs if r.get("deployment_id")})
    names = {d["id"]: d["name"] for d in httpx.post(
        f"{stack.prefect_api}/deployments/filter", timeout=30,
        json={"deployments": {"id": {"any_": ids}}}).json()} if ids else {}
    counts = Counter(f"{names.get(r.get('deployment_id'), 'no deployment')} {r.get('state_name')}" for r in runs)
    return ", ".join(f"{k} {n}" for k, n in counts.most_common()) or "none"


def items_settled(ledger: Any, sent: list[Sent], expected: set[tuple[str, str]], *,
                  only: set[tuple[str, str]] | None = None) -> Verdict:
    """Every item done, or a dead letter with a reason a person can act on; no input lost.
    ``only``: judge just these (service, source key) items (a stack other work shares)."""
    from hub.ledger import ItemState

    items = [i for i in ledger.items(limit=None) if only is None or (i.service, i.source_key) in only]
    counts: Counter[str] = Counter()
    findings: list[str] = []
    for item in items:
        if item.state == ItemState.DONE:
            counts["done"] += 1
        elif item.state == ItemState.FAILED:
            text = (item.last_error or "").strip()
            # A raw exception ("unexpected RecursionError: ...") tells nobody what to do; a crash the
            # hub explains (re-driven N times, what to look at) does.
            readable = bool(text) and item.error_kind not in ("", None) and "Traceback" not in text \
                and not text.startswith("unexpected ")
            counts["dead letter" if readable else "dead letter without a usable reason"] += 1
            counts[f"  of which {item.error_kind or 'no kind'}"] += 1  # invalid_input = the input's fault
            if not readable:
                findings.append(f"{item.service}/{item.source_key}: dead letter of kind {item.error_kind!r}: "
                                f"{(item.last_error or '')[:120]!r}")
        else:
            counts[f"still {item.state}"] += 1
            findings.append(f"{item.service}/{item.source_key} is {item.state}"
                            f"{' (' + str((item.data or {}).get('stage')) + ')' if (item.data or {}).get('stage') else ''}: "
                            f"{(item.last_error or '')[:100]!r}")
    keys = {(i.service, i.source_key) for i in items}
    for s in sent:
        if s.kind == "hire" and not s.answer.startswith("2"):
            counts["hire never accepted by the intake"] += 1
            findings.append(f"hire {s.key}: the intake answered {s.answer}")
    for service, key in sorted(expected - keys):
        counts["input with no work item"] += 1
        findings.append(f"{service} {key}: no work item in the ledger")
    undispatched = ledger.undispatched(older_than=timedelta(0), limit=1000)
    if undispatched:
        counts["events never handed to Prefect"] = len(undispatched)
        findings.append(f"{len(undispatched)} intake events still undispatched")
    bad = sum(v for k, v in counts.items() if k not in ("done", "dead letter") and not k.startswith("  of which"))
    return Verdict("every item done or a dead letter with a reason", bad == 0, dict(counts), findings)


def reconciliation(ledger: Any) -> Verdict:
    from hub.reconcile import reconcile
    from hub.settings import get_settings
    from hub.wiring import connect

    async def run() -> Any:
        settings = get_settings()
        async with connect(settings) as ports:
            return await reconcile(ledger, ports, catalog=settings.laptop.catalog, stuck_after=timedelta(minutes=10))

    report = asyncio.run(run())
    summary = report.summary()
    findings = [f"{f.kind}: {f.service}/{f.item} {f.what}: {f.detail[:100]}" for f in report.findings
                if f.kind in ("missing", "duplicate")]
    return Verdict("reconciliation: 0 missing, 0 duplicates", summary["missing"] == 0 and summary["duplicate"] == 0,
                   summary, findings[:20])


def nothing_held(stack: Stack, ledger: Any) -> Verdict:
    """No item stuck, no concurrency slot held, no zombie run."""
    from hub.ledger import ItemState
    from hub.ledger.models import utcnow

    counts: Counter[str] = Counter()
    findings: list[str] = []
    now = utcnow()
    for item in ledger.items(states=[ItemState.RUNNING], limit=None):
        if item.lease_until is None or item.lease_until < now:
            counts["stuck items"] += 1
            findings.append(f"{item.service}/{item.source_key}: running with no live lease")
    runs = active_runs(stack)
    for finding, extra in held_slots(stack):
        counts["slots held"] += extra
        findings.append(finding)
    for run in runs:
        started = run.get("start_time") or run.get("expected_start_time") or ""
        age = (now - datetime.fromisoformat(started)).total_seconds() if started else 0.0
        if run["state_type"] == "PAUSED":
            counts["runs paused (waiting for a person)"] += 1
        elif age > 600:
            counts["zombie runs (active > 10 min)"] += 1
        else:
            continue
        findings.append(f"flow run {run['name']} ({run['id']}) is {run['state_name']} since {started[:19]}")
    held = not counts
    return Verdict("no item stuck, no slot held, no zombie run", held, dict(counts), findings[:20])


def held_slots(stack: Stack, *, looks: int = 3, apart: float = 5.0) -> list[tuple[str, int]]:
    """Concurrency slots held with no run alive to hold them: (finding, slots too many).

    Scheduled polls start every minute, so a run may take or give back its slot between
    reading the limits and reading the runs. Each look reads the limits, then the runs, then
    the limits again, and counts only slots seen in both reads: a run that started or ended
    in between is not a leak. A slot is held only if every look, ``apart`` seconds from the
    next, finds it: a leak stays, a run's start does not."""
    def look() -> dict[str, tuple[int, int]]:
        before = _slots(stack)
        runs = active_runs(stack)
        after = _slots(stack)
        alive: Counter[str] = Counter(f"deployment:{r['deployment_id']}" for r in runs
                                      if r["state_type"] in ("RUNNING", "PENDING", "CANCELLING"))
        held: dict[str, tuple[int, int]] = {}
        for name in before.keys() & after.keys():
            # a deployment's slots are its runs'; a global limit's may be any run's
            allowed = alive[name] if name.startswith("deployment:") else sum(alive.values())
            taken = min(before[name], after[name])
            if taken > allowed:
                held[name] = (taken, allowed)
        return held

    seen = look()
    for _ in range(looks - 1):
        if not seen:
            break
        time.sleep(apart)
        again = look()
        seen = {name: again[name] for name in seen.keys() & again.keys()}
    names = _deployment_names(stack, [n.removeprefix("deployment:") for n in seen if n.startswith("deployment:")])
    return [(f"concurrency limit {name} ({names.get(name.removeprefix('deployment:'), 'global')}): "
             f"{taken} slot(s) taken, {allowed} run(s) alive to hold them, in each of {looks} looks "
             f"{apart:.0f} s apart", taken - allowed)
            for name, (taken, allowed) in sorted(seen.items())]


def _slots(stack: Stack) -> dict[str, int]:
    limits = httpx.post(f"{stack.prefect_api}/v2/concurrency_limits/filter", json={"limit": 200}, timeout=30).json()
    return {limit["name"]: int(limit.get("active_slots") or 0) for limit in limits}


def _deployment_names(stack: Stack, ids: list[str]) -> dict[str, str]:
    if not ids:
        return {}
    return {d["id"]: d["name"] for d in httpx.post(f"{stack.prefect_api}/deployments/filter", timeout=30,
                                                   json={"deployments": {"id": {"any_": ids}}}).json()}


def national_ids(stack: Stack, extra: list[str]) -> list[str]:
    """Every fødselsnummer the run put anywhere: HR's employees, the seeded and sent applicants."""
    from sandbox.nettskjema.seed import seed_submissions

    response = httpx.get(f"{stack.dfo_api}/ansatte/v2", headers={"X-Gravitee-Api-Key": stack.secrets["dfo_key"]},
                         timeout=30)
    ids = [e["fnr"] for e in response.json().get("ansatt", []) if e.get("fnr")]
    seeded = []
    for offset in range(3):  # the sandbox seeded relative to the day it was started
        seeded += [str(b["answers"].get("fnr")) for b in seed_submissions(date.today() - timedelta(days=offset))
                   if b["answers"].get("fnr")]
    return sorted(set(ids + seeded + extra))


def _variants(number: str) -> list[bytes]:
    return [number.encode(), f"{number[:6]} {number[6:]}".encode()]


_DIGIT_RUN = re.compile(rb"[0-9 ]{11,}")
_ELEVEN = re.compile(rb"(?=([0-9]{6} ?[0-9]{5}))")  # every start, overlapping: inside longer runs too


def numbers_in(data: bytes, needles: set[bytes]) -> set[bytes]:
    """Which of ``needles`` (11 digits, or 6 + space + 5) occur anywhere in ``data``, in one pass
    (as ``needle in data`` for each, without reading a large file once per number)."""
    found: set[bytes] = set()
    for run in _DIGIT_RUN.finditer(data):
        found.update(m for m in _ELEVEN.findall(run.group()) if m in needles)
    return found


def _pg_dump(url: str) -> bytes:
    """The whole PostgreSQL database behind ``url`` as SQL text (every table, every row)."""
    import subprocess
    from urllib.parse import urlsplit

    from devtools.pgcluster import PG_BIN

    parts = urlsplit(url)
    done = subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_dump"), "-h", parts.hostname or "",
                           "-p", str(parts.port), "-U", parts.username or "postgres", parts.path.lstrip("/")],
                          capture_output=True, check=True, timeout=300)
    return done.stdout


def no_fnr_leaks(stack: Stack, numbers: list[str]) -> Verdict:
    """0 fødselsnummer in logs, the Prefect database, artifacts, tickets and public titles."""
    from hub.privacy import contains_fnr

    counts: Counter[str] = Counter()
    findings: list[str] = []
    needles = {v for n in numbers for v in _variants(n)}

    def scan(where: str, data: bytes) -> None:
        hits = len(numbers_in(data, needles))
        if hits:
            counts[where.split(":")[0]] += hits
            findings.append(f"{where}: {hits} fødselsnummer(e)")

    for path in sorted(stack.home.rglob("*.log")):
        scan(f"log:{path.relative_to(stack.home)}", path.read_bytes())
    for path in sorted((stack.home / "prefect").glob("prefect.db*")):
        scan(f"prefect database:{path.name}", path.read_bytes())
    if (url := os.environ.get("HUB_PREFECT_DATABASE_URL", "")).startswith("postgresql"):
        scan("prefect database:pg_dump", _pg_dump(url))
    api = stack.prefect_api
    for what in ("logs", "flow_runs", "task_runs", "artifacts", "variables"):
        rows: list[Any] = []
        for _ in range(200):  # bounded paging
            page = httpx.post(f"{api}/{what}/filter", json={"limit": 200, "offset": len(rows)}, timeout=60).json()
            rows.extend(page)
            if len(page) < 200:
                break
        scan(f"prefect {what}:api", str(rows).encode())
    token = (stack.rt_dir / "hub-token").read_text().strip()
    with httpx.Client(base_url=f"{stack.rt_url}/REST/2.0", headers={"Authorization": f"token {token}"},
                      timeout=60) as rt:
        page, subjects = 1, []
        while page < 200:
            body = rt.get("/tickets", params={"query": "id > 0", "page": page, "per_page": 100,
                                              "fields": "Subject"}).json()
            subjects += [t.get("Subject", "") for t in body.get("items", [])]
            if page >= int(body.get("pages", 1) or 1):
                break
            page += 1
    for subject in subjects:
        if contains_fnr(subject):
            counts["ticket subjects"] += 1
    scan("ticket subjects:rt", "\n".join(subjects).encode())
    titles = asyncio.run(_public_titles())
    for title in titles:
        if contains_fnr(title):
            counts["public titles"] += 1
    scan("public titles:archive", "\n".join(titles).encode())
    return Verdict("0 fødselsnummer in logs, Prefect, artifacts, tickets, public titles", not counts,
                   dict(counts) or {"scanned numbers": len(numbers)}, findings[:20])


async def _public_titles() -> list[str]:
    from hub.settings import get_settings
    from hub.wiring import build_archive

    archive: Any = build_archive(get_settings())  # the N5WS adapter: title search beyond the port
    titles: list[str] = []
    try:
        for prefix in ("Personalmappe", "Søknad om fritak"):
            for case in await archive.find_case_files_by_title_prefix(prefix):
                titles.append(case.public_title or "")
                titles += [e.title for e in await archive.list_journal_entries(case)]
    finally:
        await archive.aclose()
    return titles


def hostile_answers(answers: list[tuple[Any, str]]) -> Verdict:
    """The intake refuses what must be refused (4xx) and never answers 5xx to anything."""
    from bench.hostile import HostileRequest

    counts: Counter[str] = Counter()
    findings: list[str] = []
    for value, answer in answers:
        if answer.startswith("not sent"):  # the bench failed to send it: not the hub's doing, but shown
            counts["not sent (the bench's own error)"] += 1
            findings.append(f"{type(value).__name__} {answer}")
            continue
        if not isinstance(value, HostileRequest):
            counts["form submissions accepted" if answer.startswith("201") else f"form submissions refused ({answer})"] += 1
            continue
        if answer.startswith("5") or not answer[:1].isdigit():
            counts["intake 5xx or no answer"] += 1
            findings.append(f"intake answered {answer} to {value.kind}/{value.signing}/{value.method}")
        elif value.must_refuse and not answer.startswith("4"):
            counts["forged or wrong-method accepted"] += 1
            findings.append(f"intake answered {answer} to {value.kind}/{value.signing}/{value.method}")
        else:
            counts["intake refused" if answer.startswith("4") else "intake accepted (signed)"] += 1
    bad = counts["intake 5xx or no answer"] + counts["forged or wrong-method accepted"]
    return Verdict("hostile input handled: nothing forged accepted, no 5xx", bad == 0, dict(counts), findings[:20])
