"""The hub's services, each declared once: the composition root.

One :class:`~hub.services.Service` per service names its flows' deployments (schedules,
triggers, concurrency), the events it acts on, the ports it uses, its global limits and how
its items are started again. Dispatch, replay, re-drive, the runner, ``hub doctor`` and the
flow runs' ports all read :data:`CATALOG` (:func:`hub.services.catalog`). A new service is a
flow module plus one declaration here.
"""

from __future__ import annotations

from datetime import timedelta

from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule
from prefect.events import DeploymentEventTrigger

from connectors.registry import ADAPTERS
from flows.employment import employment_changes
from flows.fritak import fritak_case, fritak_intake
from flows.fritak_sla import fritak_sla
from flows.laptop_delivery import laptop_delivery
from flows.laptop_order import laptop_orders
from flows.leaver import laptop_returns, leaver
from flows.mover import mover
from flows.onboarding import onboarding
from flows.onboarding_catchup import onboarding_catchup
from flows.onboarding_steps import TICKETING_LIMIT
from flows.ops_health import connector_health
from flows.ops_metrics import service_metrics
from flows.ops_notify import notify_operators
from flows.ops_reconcile import reconciliation
from flows.ops_redrive import redrive_stuck_items
from flows.ops_replay import list_dead_letters, replay_dead_letters
from flows.rooms import room_bookings
from hub.ledger import InboxEvent
from hub.ports.hr import canonical_employee_id
from hub.services import Catalog, DeploymentSpec, Limit, OnEvent, Rerun, Service

__all__ = ["CATALOG", "ONBOARDING", "EMPLOYMENT", "LEAVER", "MOVER", "LAPTOP", "FRITAK", "ROOMS", "OPS"]

OSLO = "Europe/Oslo"
# A scheduled run that finds the previous one still working is cancelled (it would only
# queue behind it); per-item deployments queue up to a bound instead.
ONE_AT_A_TIME = ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW)


def queued(limit: int) -> ConcurrencyLimitConfig:
    return ConcurrencyLimitConfig(limit=limit, collision_strategy=ConcurrencyLimitStrategy.ENQUEUE)


def every(**interval: float) -> tuple[IntervalSchedule]:
    return (IntervalSchedule(interval=timedelta(**interval), timezone=OSLO),)


def on_cron(cron: str) -> tuple[CronSchedule]:
    """A cron schedule in Europe/Oslo."""
    return (CronSchedule(cron=cron, timezone=OSLO),)

# A laptop is claimed under a ledger lease of its own (hub.leases.asset_claims), not under a
# one-slot limit around every allocation: RT checks If-Match before, not with, its write.
TICKETING_WRITES = Limit(TICKETING_LIMIT, 2, "Request Tracker on SQLite manages ~3 writes/s: never hammer it")


# The most events of a burst one run is given (OnEvent.together).
HIRES_PER_RUN = 50
CHANGES_PER_RUN = 50


ONBOARDING = Service(
    name="onboarding",
    title="Onboarding of new employees",
    ports=frozenset({"hr", "archive", "ticketing", "mail"}),
    # Items, runs and their parameters use one form of the employee id ("05001234" → "5001234").
    # A burst of hires (an August) goes to one run per 50 (together), each hire its own item.
    # Runs of 12 balanced the end of a burst better but cost Prefect ~40 % more CPU, and the
    # hub's pace against the bare client stayed where it was (bench/backlog, 200 hires: 0.72
    # against 0.67 and 0.74).
    events=(OnEvent("dfo:ansatte", "onboarding/onboarding",
                    lambda ev: {"employee_id": canonical_employee_id(ev.subject_id), "event_id": ev.id},
                    together=HIRES_PER_RUN),),
    rerun=Rerun("onboarding/onboarding", key_parameter="employee_id", key_type=canonical_employee_id),
    limits=(TICKETING_WRITES,),
    catch_up="daily-catchup",
    deployments=(
        DeploymentSpec(
            flow=onboarding,
            name="onboarding",
            description="Onboard one new employee, or a burst's hires in one run (each its own work item). "
                        "Started by HR's new-hire event through the hub's intake (exactly once per hire; a "
                        "future gyldigEtter is scheduled for that day).",
            # Runs start at once and wait inside for the ticketing limit (2 slots); the deployment
            # limit bounds how many flow processes a burst of hires starts. A hire spends most of
            # its time in the archive steps (no slot), and a run given a burst works
            # HUB_BURST_PARALLEL (12) of its hires side by side, so 3 runs (36 hires) keep the
            # ticketing slots busy without filling the runner (16 runs) with runs that only wait,
            # which starved the polls, fritak cases and redrive-stuck in the chaos bench. Each
            # run's process asks Prefect for the slots on its own and polls while another holds
            # them: with 6 runs of 12, 200 hires drew ~680 denied slot requests in 140 s and
            # drained at 1.47 a second (three runs); with 3, 549 and 1.62 (bench/backlog).
            concurrency=queued(3),
            tags=("service:onboarding", "event-triggered"),
        ),
        DeploymentSpec(
            flow=onboarding_catchup,
            name="daily-catchup",
            description="Safety net: every morning, re-read hires starting within 14 days and onboard "
                        "anyone the events missed, and hand anyone whose sluttdato is within 14 days and not "
                        "yet seen by the hub to the employment-changes router.",
            schedules=on_cron("30 5 * * *"),
            concurrency=ONE_AT_A_TIME,
            tags=("service:onboarding", "scheduled"),
        ),
    ),
)

def _employee_event(ev: InboxEvent) -> dict[str, str]:
    return {"employee_id": canonical_employee_id(ev.subject_id), "event_id": ev.id}


EMPLOYMENT = Service(
    name="employment",
    title="Employment changes (routes HR changes to leavers and movers)",
    ports=frozenset({"hr"}),
    # Beside onboarding: every change to an employee or a position. It runs at once, whatever
    # the gyldigEtter: it schedules the leaver on the sluttdato and the mover on the change's day.
    # And on every new message repeating an event (every_message): DFØ's events carry no change
    # id, so a change reversed with the same gyldigEtter is such a repeat; the router re-reads HR
    # and, idempotent by its snapshot, writes nothing for a mere re-announcement.
    # A burst of changes (an August of hires) goes to one router run (together): a run per hire
    # beside each onboarding halved the onboardings' pace while the routers lasted.
    events=(OnEvent("dfo:ansatte", "employment-changes/employment-changes", _employee_event, at_valid_after=False,
                    every_message=True, together=CHANGES_PER_RUN),
            OnEvent("dfo:stillinger", "employment-changes/employment-changes", _employee_event,
                    at_valid_after=False, every_message=True, together=CHANGES_PER_RUN)),
    # One item per event (keyed by its inbox id): replay, re-drive and retries start the router
    # again with that event, which names the employee.
    rerun=Rerun("employment-changes/employment-changes", key_parameter="event_id"),
    deployments=(
        DeploymentSpec(
            flow=employment_changes,
            name="employment-changes",
            description="One HR change (dfo:ansatte, dfo:stillinger) compared with the hub's last snapshot of "
                        "the employment: a sluttdato set or moved schedules the leaver on that day (a moved or "
                        "withdrawn one cancels the scheduled run), a new unit, manager or position starts a mover.",
            # Runs of one person may overlap (two changes announced together): every write is keyed
            # (the same change gives the same run and item), and a leaver re-reads HR on the day and
            # stops if its date no longer holds. A bound, not one at a time: a burst of hires would
            # otherwise queue behind one slot and be re-offered to the runner over and over.
            concurrency=queued(4),
            tags=("service:employment", "event-triggered"),
        ),
    ),
)

LEAVER = Service(
    name="leaver",
    title="Leavers (end of employment)",
    ports=frozenset({"hr", "archive", "ticketing", "mail"}),
    rerun=Rerun("leaver/leaver", key_parameter="leaver_key"),
    limits=(TICKETING_WRITES,),
    deployments=(
        DeploymentSpec(
            flow=leaver,
            name="leaver",
            description="One leaver, run on the sluttdato at the start hour: the ticket 'Deactivate user "
                        "account' for the last working day, a ticket to collect the laptop(s) held, the "
                        "end-of-employment letter in the personnel file, the manager's checklist by e-mail.",
            concurrency=queued(4),
            tags=("service:leaver", "scheduled-by-event"),
        ),
        DeploymentSpec(
            flow=laptop_returns,
            name="laptop-returns",
            description="Every five minutes: for leavers whose laptop collection ticket IT has resolved, put "
                        "each laptop back in stock (free for the next hire) and file a return receipt in the "
                        "personnel file.",
            schedules=every(minutes=5),
            concurrency=ONE_AT_A_TIME,
            tags=("service:leaver", "scheduled"),
        ),
    ),
)

MOVER = Service(
    name="mover",
    title="Movers (change of unit, manager or position)",
    ports=frozenset({"hr", "archive", "ticketing", "mail"}),
    rerun=Rerun("mover/mover", key_parameter="mover_key"),
    limits=(TICKETING_WRITES,),
    deployments=(
        DeploymentSpec(
            flow=mover,
            name="mover",
            description="One change of unit, manager or position: a change note in the personnel file, an "
                        "e-mail to the old and the new manager, and an equipment ticket when the campus changes "
                        "and the person holds a laptop.",
            concurrency=queued(4),
            tags=("service:mover", "event-triggered"),
        ),
    ),
)

LAPTOP = Service(
    name="laptop",
    title="Laptop orders and delivery",
    ports=frozenset({"hr", "archive", "ticketing", "forms", "mail"}),
    rerun=Rerun("laptop-orders/laptop-orders"),
    limits=(TICKETING_WRITES,),
    deployments=(
        DeploymentSpec(
            flow=laptop_orders,
            name="laptop-orders",
            description="Every minute: collect new laptop orders from Nettskjema, open the RT ticket and "
                        "reserve a laptop of the chosen model (or wait for stock).",
            schedules=every(minutes=1),
            concurrency=ONE_AT_A_TIME,
            tags=("service:laptop", "scheduled"),
        ),
        DeploymentSpec(
            flow=laptop_delivery,
            name="laptop-delivery",
            description="Every five minutes: for laptops IT has handed over (ticket resolved, HeldBy set), "
                        "file the delivery receipt in the personnel file and tell the requester.",
            schedules=every(minutes=5),
            concurrency=ONE_AT_A_TIME,
            tags=("service:laptop", "scheduled"),
        ),
    ),
)

FRITAK = Service(
    name="fritak",
    title="Søke fritak (exemption from courses)",
    ports=frozenset({"archive", "forms", "mail"}),
    rerun=Rerun("fritak-case/fritak-case", key_parameter="submission_id", key_type=int),
    deployments=(
        DeploymentSpec(
            flow=fritak_intake,
            name="fritak-intake",
            description="Every minute: collect new applications for exemption; archive each valid one and ask "
                        "a case handler for the decision (its fritak-case run, created suspended).",
            schedules=every(minutes=1),
            concurrency=ONE_AT_A_TIME,
            tags=("service:fritak", "scheduled"),
        ),
        DeploymentSpec(
            flow=fritak_case,
            name="fritak-case",
            description="One application for exemption, waiting (suspended) for the case handler's decision "
                        "in the UI, then journal the letter, close the case, tell the student (a case started "
                        "by a replay or re-drive validates and archives first).",
            concurrency=queued(6),
            tags=("service:fritak", "human-in-the-loop"),
        ),
        DeploymentSpec(
            flow=fritak_sla,
            name="daily-sla",
            description="Every morning: flag exemption cases older than the deadline (3 weeks) without a decision.",
            schedules=on_cron("0 7 * * 1-5"),
            tags=("service:fritak", "scheduled"),
        ),
    ),
)

ROOMS = Service(
    name="rooms",
    title="Group-room bookings",
    ports=frozenset({"forms", "calendar", "mail", "inbox"}),
    also_items=("rooms-cancel",),
    rerun=Rerun("room-bookings/room-bookings"),
    deployments=(
        DeploymentSpec(
            flow=room_bookings,
            name="room-bookings",
            description="Every minute: collect group-room requests and cancellations (Nettskjema forms and "
                        "replies to the confirmation), book a free room that fits in its CalDAV calendar (or "
                        "offer the three nearest alternatives), cancel, and confirm by e-mail with the .ics.",
            schedules=every(minutes=1),
            concurrency=ONE_AT_A_TIME,
            tags=("service:rooms", "scheduled"),
        ),
    ),
)

OPS: tuple[DeploymentSpec, ...] = (
    DeploymentSpec(
        flow=connector_health,
        name="connector-health",
        description="Every five minutes: reachability, authentication and latency of every connector and "
                    "of the Prefect server (artifact 'connector-health'); a connector turning unhealthy "
                    "emits hub.connector.unhealthy.",
        schedules=every(minutes=5),
        concurrency=ONE_AT_A_TIME,
        tags=("ops", "scheduled"),
    ),
    DeploymentSpec(
        flow=notify_operators,
        name="notify-operators",
        description="Automation: when the health check reports a connector unhealthy, e-mail the operators.",
        triggers=(DeploymentEventTrigger(
            name="connector turned unhealthy", expect={"hub.connector.unhealthy"},
            match={"prefect.resource.id": "hub.connector.*"},
            # Only plain values through the template: the detail (any text) is read from the ledger.
            parameters={"connector": "{{ event.payload.connector }}"}),),
        tags=("ops", "event-triggered"),
    ),
    DeploymentSpec(
        flow=reconciliation,
        name="nightly",
        description="Every night: compare the ledger with the archive core and RT — missing and duplicated "
                    "records, stuck items — and list laptops still held by people who have left. Any drift "
                    "fails the run (artifact 'reconciliation').",
        schedules=on_cron("15 2 * * *"),
        concurrency=ONE_AT_A_TIME,
        tags=("ops", "scheduled"),
    ),
    DeploymentSpec(
        flow=service_metrics,
        name="service-metrics",
        description="Every night, and on demand (parameter weeks): per service and week — volume, done, "
                    "failed, waiting, lead time (median, p90), automation rate, dead letters, oldest open "
                    "item (artifacts 'service-metrics' and 'service-metrics-chart').",
        schedules=on_cron("45 2 * * *"),
        concurrency=ONE_AT_A_TIME,
        tags=("ops", "scheduled"),
    ),
    DeploymentSpec(
        flow=list_dead_letters,
        name="dead-letters",
        description="Every hour: every failed item with its reason (artifact 'dead-letters').",
        schedules=every(hours=1),
        concurrency=ONE_AT_A_TIME,
        tags=("ops", "scheduled"),
    ),
    DeploymentSpec(
        flow=redrive_stuck_items,
        name="redrive-stuck",
        description="When a flow run crashes (its process died; the 'detect zombie flow runs' automation "
                    "marks it Crashed), and every two minutes: start every stuck work item again — running, "
                    "but its run ended and its lease expired — or, after HUB_REDRIVE_MAX_ATTEMPTS re-drives, "
                    "make it a dead letter; a fritak case resumed with a decision whose run died is finished "
                    "with that decision. Also retries transient dead letters (a peer down longer than a task's "
                    "retries) 5 min, 30 min and 2 h after they failed (HUB_RETRY_TRANSIENT_AFTER). Artifact "
                    "'redrive-stuck'.",
        schedules=every(minutes=2),
        # One pass at a time; a crash during a pass is seen by that pass's re-scan (it scans
        # again while it finds work) or by the next scheduled pass. Queued passes would be
        # re-offered to the runner every few seconds, loading the server during a burst.
        concurrency=ONE_AT_A_TIME,
        triggers=(DeploymentEventTrigger(
            name="a flow run crashed", expect={"prefect.flow-run.Crashed"},
            match={"prefect.resource.id": "prefect.flow-run.*"}),),
        tags=("ops", "scheduled", "event-triggered"),
    ),
    DeploymentSpec(
        flow=replay_dead_letters,
        name="replay-dead-letters",
        description="On demand: replay chosen dead letters after a fix (items completed meanwhile are skipped). "
                    "Same as `hub replay`.",
        tags=("ops", "on-demand"),
    ),
)

CATALOG = Catalog(
    # Onboarding first: it keeps the plain idempotency key of a dfo:ansatte event (hub.dispatch.route_key).
    services=(ONBOARDING, EMPLOYMENT, LEAVER, MOVER, LAPTOP, FRITAK, ROOMS),
    adapters=ADAPTERS,
    ops=OPS,
)
