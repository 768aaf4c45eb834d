"""What the chaos bench sends, and the people it plays (:mod:`bench.chaos`).

- :class:`Workload` — the ordinary business: hires announced through the intake (signed),
  laptop orders, applications for exemption (fritak) and group-room requests, submitted
  to the sandboxes' control routes the way a person or HR would;
- :class:`People` — the humans the services wait for: the case handler who decides a
  suspended fritak case (``resume_flow_run`` with a decision), IT who hands over a reserved
  laptop (HeldBy + ticket resolved, straight in RT) and restocks the laptop catalog;
- :func:`send_hostile` — one hostile input from :mod:`bench.hostile`, with what became of it.

Everything talks to 127.0.0.1 only, with short timeouts; every loop is bounded by the caller.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import httpx

from bench.hostile import HostileRequest, HostileSubmission
from devtools.stack import Stack
from hub.settings import OSLO
from sandbox.dfo.seed import synthetic_fnr
from sandbox.nettskjema.forms import FRITAK_FORM_ID, LAPTOP_FORM_ID, ROOMS_FORM_ID

__all__ = ["Sent", "Workload", "People", "send_hostile", "sign_event", "control", "unreachable"]

LAPTOP_MODELS = {"thinkpad-t14": "Lenovo ThinkPad T14 Gen 5", "macbook-air-13": "Apple MacBook Air 13 M3",
                 "latitude-7450": "Dell Latitude 7450"}
COURSES = ["DATA1100", "DATA1200", "DAPE1400", "MATA1000", "ITPE3100"]


def control(stack: Stack) -> dict[str, str]:
    """Headers for the sandboxes' control routes (they need the stack's token)."""
    try:
        from sandbox.common import control_headers

        return control_headers(stack.sandbox_token)
    except (ImportError, AttributeError):  # a tree without control tokens
        return {}


def sign_event(body: bytes, secret: str, how: str = "valid") -> dict[str, str]:
    """Signature headers for an intake request: ``valid``, ``stale`` (an hour old),
    ``foreign`` (another secret), ``garbage`` or ``none``."""
    if how == "none":
        return {}
    try:
        from hub.signing import sign_headers  # Standard Webhooks
    except ImportError:  # the older single-header scheme
        from hub.signing import HEADER, sign  # type: ignore[attr-defined]

        if how == "garbage":
            return {HEADER: "sha256=" + "0" * 64}
        return {HEADER: sign(body, "not-the-secret" if how == "foreign" else secret)}
    if how == "garbage":
        return {"webhook-id": "msg_x", "webhook-timestamp": str(int(time.time())),
                "webhook-signature": "v1,bm90IGEgc2lnbmF0dXJl"}
    when = datetime.now(OSLO) - timedelta(hours=1) if how == "stale" else None
    key = "not-the-secret" if how == "foreign" else secret
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:  # the library signs text only; the scheme's HMAC is over bytes
        return _sign_bytes(body, key, when or datetime.now(OSLO))
    return sign_headers(body, key, timestamp=when)


def _sign_bytes(body: bytes, secret: str, when: datetime) -> dict[str, str]:
    """Standard Webhooks headers for a body that is not UTF-8 (the intake must refuse it, not
    the bench fail to send it): base64(HMAC-SHA256(key, "{id}.{timestamp}." + body))."""
    import base64
    import hashlib
    import hmac
    import uuid

    msg_id, stamp = f"msg_{uuid.uuid4().hex}", str(int(when.timestamp()))
    key = base64.b64decode(secret.removeprefix("whsec_")) if secret.startswith("whsec_") else secret.encode()
    digest = hmac.new(key, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    return {"webhook-id": msg_id, "webhook-timestamp": stamp,
            "webhook-signature": "v1," + base64.b64encode(digest).decode()}


@dataclass
class Sent:
    """One business input and where its ledger item will be (service, source key)."""

    kind: str
    service: str
    key: str
    detail: dict[str, Any] = field(default_factory=dict)
    answer: str = ""


class Workload:
    """Ordinary inputs, created one at a time by :meth:`send` (any order, any thread)."""

    def __init__(self, stack: Stack, rng: random.Random, *, offset: int = 30000, prefix: str = "chaos",
                 room_days: tuple[int, ...] = (), laptop_models: tuple[str, ...] = (),
                 orderers_in_turn: bool = False, announce_hires: bool = True) -> None:
        """``offset``: the first number given out (employee ids, names); ``prefix`` names the
        people it makes up (``chaos30001@oslomet.no``); ``room_days`` (days ahead) and
        ``laptop_models`` narrow what rooms and laptops are asked for (default: any bookable
        day 2–12 ahead, any model); ``orderers_in_turn``: laptop orders go to the hires in turn
        (each to another person while there are more hires than orders) instead of at random;
        ``announce_hires=False``: a hire is registered in HR, and no event is sent (for a
        caller that onboards them itself)."""
        self.stack, self.rng, self.offset, self.prefix = stack, rng, offset, prefix
        self.announce_hires = announce_hires
        self.room_days, self.laptop_models, self.orderers_in_turn = room_days, laptop_models, orderers_in_turn
        self.orders = 0
        self.count = 0
        self.hires: list[str] = []  # e-mails of hires made so far (laptop orders use them)
        self.sent: list[Sent] = []
        self.fnrs: list[str] = []
        self.client = httpx.Client(timeout=30)
        self._lock = threading.Lock()

    def send(self, kind: str) -> Sent:
        with self._lock:
            self.count += 1
            n = self.offset + self.count
        sent = {"hire": self._hire, "laptop": self._laptop, "fritak": self._fritak, "rooms": self._room}[kind](n)
        self.sent.append(sent)
        return sent

    def _post(self, url: str, body: dict[str, Any]) -> httpx.Response:
        return self.client.post(url, json=body, headers=control(self.stack))

    def _hire(self, n: int) -> Sent:
        birth = date(1960 + n % 39, 1 + n % 12, 1 + n % 28)  # the 1900s: synthetic_fnr's range
        fnr = synthetic_fnr(birth, female=bool(n % 2), start=n % 500)
        self.fnrs.append(fnr)
        email = f"{self.prefix}{n}@oslomet.no"
        body = {"id": str(n), "fornavn": "Kaos", "etternavn": f"Ansatt {n}", "brukerident": f"{self.prefix}{n}",
                "epost": email, "startdato": (date.today() + timedelta(days=3)).isoformat(),
                "organisasjonId": "10000100", "stillingId": 30000005, "tittel": "Rådgiver", "lederflagg": False,
                "fnr": fnr}
        created = self._post(f"{self.stack.dfo_url}/_sandbox/ansatte", body)
        if created.status_code >= 300:
            body.pop("fnr")  # a sandbox that makes up its own
            created = self._post(f"{self.stack.dfo_url}/_sandbox/ansatte", body)
        created.raise_for_status()
        if not self.announce_hires:
            self.hires.append(email)
            return Sent("hire", "onboarding", str(n), {"email": email}, str(created.status_code))
        event = json.dumps({"id": str(n), "uri": "dfo:ansatte", "gyldigEtter": date.today().isoformat()},
                           separators=(",", ":")).encode()
        answer = "unreached"
        for _ in range(30):  # the intake may be down (killed): HR's relay tries again, bounded
            try:
                response = self.client.post(f"{self.stack.intake_url}/events/hr", content=event, timeout=10,
                                            headers={"Content-Type": "application/json",
                                                     **sign_event(event, self.stack.secrets["hmac"])})
                answer = str(response.status_code)
                if response.status_code < 500:
                    break
            except httpx.HTTPError as exc:
                answer = exc.__class__.__name__
            time.sleep(2)
        self.hires.append(email)
        return Sent("hire", "onboarding", str(n), {"email": email}, answer)

    def _submit(self, form: int, answers: dict[str, Any], attachments: dict[str, Any] | None = None) -> str:
        body: dict[str, Any] = {"answers": answers, **({"attachments": attachments} if attachments else {})}
        response = self._post(f"{self.stack.nettskjema_url}/_sandbox/forms/{form}/submissions", body)
        response.raise_for_status()
        return str(response.json()["submissionId"])

    def _laptop(self, n: int) -> Sent:
        if self.orderers_in_turn and self.hires:
            with self._lock:
                feide, self.orders = self.hires[self.orders % len(self.hires)], self.orders + 1
        else:
            feide = self.rng.choice(self.hires) if self.hires else "norstr@oslomet.no"
        model = self.rng.choice(sorted(self.laptop_models or LAPTOP_MODELS))
        sid = self._submit(LAPTOP_FORM_ID, {"feide": feide, "model": model, "location": "pilestredet",
                                            "cost_centre": "2110", "justification": "Ny maskin til undervisning.",
                                            "needed_by": (date.today() + timedelta(days=20)).strftime("%d.%m.%Y")})
        return Sent("laptop", "laptop", sid, {"feide": feide, "model": model}, "201")

    def _fritak(self, n: int) -> Sent:
        import base64

        # Born 1990-1998: synthetic_fnr's individnummer range (000-499) is the one for the 1900s.
        fnr = synthetic_fnr(date(1990 + n % 9, 1 + n % 12, 1 + n % 27), female=bool(n % 2), start=(7 * n) % 500)
        self.fnrs.append(fnr)
        courses = self.rng.sample(COURSES, self.rng.randint(1, 2))
        pdf = base64.b64encode(_pdf(f"Vitnemål {n}")).decode()
        sid = self._submit(FRITAK_FORM_ID, {
            "name": f"Kari Kaos {n}", "student_number": f"s{n % 1000000:06d}", "fnr": fnr,
            "email": f"s{n}@student.oslomet.no",
            "courses": courses, "grounds": "Tilsvarende emner er bestått ved Universitetet i Oslo.",
            "earlier_institution": "Universitetet i Oslo", "completed": "20.06.2024", "credits": "10"},
            {"attachment_1": [{"filename": "vitnemål.pdf", "mediaType": "application/pdf", "contentBase64": pdf}]})
        return Sent("fritak", "fritak", sid, {"courses": courses}, "201")

    def _room(self, n: int) -> Sent:
        ahead = self.room_days[n % len(self.room_days)] if self.room_days else 2 + n % 11
        day = datetime.now(OSLO).date() + timedelta(days=ahead)  # bookable: at most 14 days ahead
        start = 8 * 60 + 15 * self.rng.randint(0, 40)  # 08:00 … 18:00
        end = start + 15 * self.rng.randint(2, 8)
        hhmm = "{:02d}:{:02d}".format
        sid = self._submit(ROOMS_FORM_ID, {"booker": f"s{n}@oslomet.no", "room": "any",
                                           "min_capacity": str(self.rng.randint(2, 8)),
                                           "date": day.strftime("%d.%m.%Y"), "start": hhmm(*divmod(start, 60)),
                                           "end": hhmm(*divmod(end, 60)), "purpose": "Kollokvie i DATA1100"})
        return Sent("rooms", "rooms", sid, {}, "201")


def _pdf(title: str) -> bytes:
    from mappings.pdf import letter_pdf

    return letter_pdf(sender="Universitetet i Oslo", recipient=["Kari Kaos"], date=datetime(2024, 6, 20, tzinfo=OSLO),
                      title=title, paragraphs=["Emner: Programmering 1, 10 studiepoeng."], signature="Studieadm.")


def send_hostile(stack: Stack, value: HostileRequest | HostileSubmission, client: httpx.Client) -> str:
    """Send one hostile input; the answer as text (``401``, ``202``, ``ReadTimeout``...).

    While the intake is down (the bench killed it) the sender tries again, bounded: a refused
    connection, or one cut because the bench killed the intake during the request, is the
    bench's doing, not an answer. A connection the intake cut while it stayed alive is kept as
    the answer (no answer: the invariant reports it)."""
    answer = "unsent"
    for _ in range(30):
        before = _intake_lives(stack)
        answer = _send_hostile_once(stack, value, client)
        if answer in _CUT:
            time.sleep(3)  # a process just killed still looks alive until the supervisor reaps it
        killed = answer in _CUT and _intake_lives(stack) != before
        if answer != "ConnectError" and not killed:
            break
        time.sleep(2)
    return answer


_CUT = ("ReadError", "RemoteProtocolError", "WriteError", "ReadTimeout")


def _intake_lives(stack: Stack) -> tuple[int | None, int]:
    """The intake's pid (None while it is down) and how often the supervisor has seen it die.
    The count tells a kill during a request apart also when the pid reads the same before and
    after: the request began while the intake was down and reached a new intake that the bench
    killed again while it was starting (the small chaos run kills the intake twice in 3 s)."""
    proc = stack.procs.get("intake")
    supervisor = stack.supervisor
    deaths = sum(1 for e in list(supervisor.events) if e.name == "intake" and e.kind == "died") if supervisor else 0
    return (proc.pid if proc is not None and proc.alive() else None), deaths


def _send_hostile_once(stack: Stack, value: HostileRequest | HostileSubmission, client: httpx.Client) -> str:
    try:
        if isinstance(value, HostileRequest):
            headers = {**sign_event(value.body, stack.secrets["hmac"], value.signing)}
            if value.content_type:
                headers["Content-Type"] = value.content_type
            response = client.request(value.method, f"{stack.intake_url}/events/hr", content=value.body,
                                      headers=headers, timeout=30)
        else:
            response = client.post(f"{stack.nettskjema_url}/_sandbox/forms/{value.form_id}/submissions",
                                   json=value.body(), headers=control(stack), timeout=30)
            if response.status_code == 201:
                return f"201:{response.json()['submissionId']}"
        return str(response.status_code)
    except httpx.HTTPError as exc:
        return exc.__class__.__name__


def unreachable(exc: BaseException) -> bool:
    """Prefect (or a peer) is down or restarting — the bench killed it: a person tries again
    later; it is not their error. A refused or cut connection, a timeout, a 5xx."""
    if isinstance(exc, httpx.TransportError | TimeoutError | ConnectionError):
        return True
    response = getattr(exc, "response", None)  # httpx.HTTPStatusError, Prefect's subclass of it
    return isinstance(exc, httpx.HTTPStatusError) and response is not None and response.status_code >= 500


class People:
    """The case handler and IT, acting on what waits for them (one pass per :meth:`act`).

    A person whose system does not answer (Prefect killed, restarting) waits and tries again
    (:meth:`patiently`), as a person would; that is counted in ``waited``, not in ``errors``."""

    def __init__(self, stack: Stack, courses: dict[str, list[str]], *, stop: threading.Event | None = None,
                 patience: float = 90.0) -> None:
        self.stack = stack
        self.courses = courses  # fritak submission id → courses applied for
        self.done: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.waited: Counter[str] = Counter()  # tries again because Prefect or a peer did not answer
        self.resumed: set[str] = set()
        self.delivered: set[int] = set()
        self.stop = stop or threading.Event()
        self.patience = patience
        self.rt = httpx.Client(base_url=f"{stack.rt_url}/REST/2.0", timeout=30,
                               headers={"Authorization": f"token {(stack.rt_dir / 'hub-token').read_text().strip()}"})

    def patiently(self, what: str, action: Any) -> Any:
        """``action()``, tried again every few seconds while Prefect or a peer is unreachable
        (at most ``patience`` seconds; then None: the next pass tries again). Other errors raise."""
        deadline = time.monotonic() + self.patience
        wait = 1.0
        while True:
            try:
                return action()
            except Exception as exc:
                if not unreachable(exc):
                    raise
                self.waited[f"{what}: {exc.__class__.__name__}"] += 1
                if time.monotonic() + wait > deadline or self.stop.wait(wait):
                    return None
                wait = min(2 * wait, 8.0)

    def act(self, ledger: Any) -> None:
        from hub.ledger import ItemState

        items = self.patiently("ledger", lambda: ledger.items(states=[ItemState.WAITING], limit=None)) or []
        cases = [i for i in items if i.service == "fritak" and i.flow_run_id and i.flow_run_id not in self.resumed]
        if cases:
            try:
                self.patiently("fritak", lambda: self._decide(cases))
            except Exception as exc:  # the next pass tries again; counted for the report
                self.errors[f"fritak: {exc.__class__.__name__}"] += 1
        for item in items:
            if self.stop.is_set():
                return
            try:
                if item.service == "laptop" and (item.data or {}).get("stage") == "awaiting_delivery":
                    self.patiently("laptop", lambda item=item: self._deliver(ledger, item))
            except Exception as exc:  # the next pass tries again; counted for the report
                self.errors[f"{item.service}: {exc.__class__.__name__}"] += 1

    def start_deployment(self, name: str) -> bool:
        """Start a run of deployment ``name`` now (IT not waiting for its schedule); True once started."""
        from prefect.deployments import run_deployment

        async def start() -> None:
            await run_deployment(name, timeout=0)  # type: ignore[misc]  # awaited: inside a loop it is async

        try:
            return self.patiently(f"start {name}", lambda: asyncio.run(asyncio.wait_for(start(), 30)) or True) is True
        except Exception as exc:
            self.errors[f"start {name}: {exc.__class__.__name__}"] += 1
            return False

    def _decide(self, cases: list[Any]) -> None:
        """Decide every case whose run is suspended waiting for a person (one read for all of
        them); a run not suspended yet, or resumed meanwhile, is left for the next pass."""
        from uuid import UUID

        from prefect.client.orchestration import get_client
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
        from prefect.exceptions import NotPausedError
        from prefect.flow_runs import aresume_flow_run

        async def decide() -> None:
            runs: list[Any] = []
            async with get_client() as client:  # Prefect reads at most 200 runs a request
                for first in range(0, len(cases), 200):
                    runs += await client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(
                        any_=[UUID(c.flow_run_id) for c in cases[first:first + 200]])), limit=200)
            # Several case handlers at once, each decision on its own clock: on a busy server one
            # resume can be retried for minutes (SQLite "database is locked"), and one after
            # the other the rest waited behind it.
            gate = asyncio.Semaphore(4)

            async def decide_one(run: Any) -> None:
                async with gate:
                    try:
                        await asyncio.wait_for(aresume_flow_run(run.id, run_input={
                            "outcome": "approve", "courses": [], "decided_by": "Kari Saksbehandler",
                            "justification": "Tilsvarende emner er bestått; fritak innvilges."}), 60)
                    except NotPausedError:  # resumed or ended since the read: nothing to decide
                        return
                    except Exception as exc:  # the next pass tries again
                        key = "waited" if unreachable(exc) or isinstance(exc, TimeoutError) else "error"
                        (self.waited if key == "waited" else self.errors)[f"fritak: {exc.__class__.__name__}"] += 1
                        return
                    self.resumed.add(str(run.id))
                    self.done["fritak decided"] += 1

            await asyncio.gather(*(decide_one(run) for run in runs if run.state is not None
                                   and run.state.is_paused() and str(run.id) not in self.resumed))

        asyncio.run(asyncio.wait_for(decide(), 180))

    def _deliver(self, ledger: Any, item: Any) -> None:
        if item.id in self.delivered:
            return
        ticket, asset = ledger.get_ref(item.id, "ticket"), ledger.get_ref(item.id, "asset")
        feide = str((item.data or {}).get("feide", ""))
        if ticket is None or asset is None or not feide:
            return
        self.rt.put(f"/asset/{asset.ref}", json={"HeldBy": [feide]}).raise_for_status()
        self.rt.put(f"/ticket/{ticket.ref}", json={"Status": "resolved"}).raise_for_status()
        self.delivered.add(item.id)
        self.done["laptop handed over"] += 1

    def restock(self, per_model: dict[str, int]) -> int:
        """IT buys laptops: create ``per_model`` new assets in the Laptops catalog (as RT's root)."""
        password = (self.stack.rt_dir / "root-password").read_text().strip()
        created = 0
        with httpx.Client(base_url=f"{self.stack.rt_url}/REST/2.0", auth=("root", password), timeout=30) as root:
            for model, count in per_model.items():
                for i in range(count):
                    response = root.post("/asset", json={"Name": f"LT-C{created + 1:04d}", "Catalog": "Laptops",
                                                         "Description": f"chaos bench stock {i}",
                                                         "CustomFields": {"Model": model}})
                    if response.status_code >= 300:
                        self.errors[f"restock: HTTP {response.status_code}"] += 1
                        return created
                    created += 1
        return created

    def close(self) -> None:
        self.rt.close()
