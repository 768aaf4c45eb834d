"""Hostile inputs for the chaos bench and for tests, generated with ``hypothesis``.

Three families, each a strategy of plain data (nothing is sent here):

- :func:`intake_requests` — requests to the intake's ``POST /events/hr``: missing, wrong,
  stale and foreign signatures, bodies that are huge, not JSON, not objects, of the wrong
  types, with unicode or a fødselsnummer as the employee id, wrong methods and content types;
- :func:`form_submissions` — submissions to the three Nettskjema forms (laptop, fritak,
  group rooms) that the form accepts but that are hostile inside: names with HTML and
  markdown, e-mails like ``kari@``, fødselsnumre in free text, text files named ``.pdf``,
  absurd dates and times;
- :func:`malformed_bodies` — answers a peer might send instead of its JSON.

Every generated value records the fødselsnumre it carries (``fnrs``), so a leak scan knows
what to look for. :func:`draw` turns a strategy into ``n`` examples, the same ones for the
same seed, through Hypothesis' own engine (``@given`` with ``@seed``, no example database,
generate phase only) — the documented way, rather than ``strategy.example()``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, TypeVar

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from sandbox.dfo.seed import synthetic_fnr
from sandbox.nettskjema.forms import FORMS, FRITAK_FORM_ID, LAPTOP_FORM_ID, ROOMS_FORM_ID

__all__ = ["HostileRequest", "HostileSubmission", "MalformedBody", "intake_requests", "form_submissions",
           "malformed_bodies", "fnrs", "draw", "FORM_NAMES"]

T = TypeVar("T")
FORM_NAMES = {"laptop": LAPTOP_FORM_ID, "fritak": FRITAK_FORM_ID, "rooms": ROOMS_FORM_ID}


@dataclass(frozen=True)
class HostileRequest:
    """One request to the intake. ``signing`` says how the sender signs ``body``:
    ``valid`` (the real secret, now), ``none``, ``garbage``, ``stale`` (the real secret, an
    hour ago), ``foreign`` (another secret)."""

    kind: str
    method: str
    body: bytes
    signing: str
    content_type: str | None
    fnrs: tuple[str, ...] = ()

    @property
    def must_refuse(self) -> bool:
        """A request nobody may get through: unsigned, forged, stale or the wrong method."""
        return self.signing != "valid" or self.method != "POST"


@dataclass(frozen=True)
class HostileSubmission:
    """One form submission: simple answers as the sandbox's control route takes them, and
    attachments as ``(filename, media type, bytes)``."""

    form: str
    answers: dict[str, Any]
    attachments: dict[str, list[tuple[str, str, bytes]]] = field(default_factory=dict)
    traits: tuple[str, ...] = ()
    fnrs: tuple[str, ...] = ()

    @property
    def form_id(self) -> int:
        return FORM_NAMES[self.form]

    def body(self) -> dict[str, Any]:
        """The JSON body of ``POST /_sandbox/forms/{form}/submissions``."""
        files = {key: [{"filename": name, "mediaType": media, "contentBase64": base64.b64encode(data).decode()}
                       for name, media, data in items] for key, items in self.attachments.items()}
        return {"answers": self.answers, **({"attachments": files} if files else {})}


@dataclass(frozen=True)
class MalformedBody:
    kind: str
    body: bytes
    media_type: str


# ---- building blocks ----------------------------------------------------------------------

MARKUP = ["<b>Kari</b> Nordmann", "<img src=x onerror=alert(1)>", "<script>alert('x')</script>",
          "**Kari** [klikk her](http://127.0.0.1:1/phish)", "# Overskrift\n---\n| a | b |", "Kari\u202eNnamdroN",
          "'; DROP TABLE work_items; --", "{{ flow_run.parameters }}", "${jndi:ldap://127.0.0.1:1/x}",
          "Ola &amp; <i>Kari</i> &lt;x&gt;", "\u0000\u0007\u001b[31mred", "Åse Ødegård-Ærø 🙂", "x" * 2000]
EMAILS_BAD = ["kari@", "@oslomet.no", "kari", "kari@@oslomet.no", "kari@oslomet.no\r\nBcc: alle@oslomet.no",
              "<kari@oslomet.no>", "kari@oslomet.no, ola@oslomet.no", "kåre@øst.example", "a" * 300 + "@oslomet.no",
              "kari@localhost", "kari nordmann@oslomet.no", "\"<b>\"@oslomet.no", ""]
EMAILS_OK = ["norstr@oslomet.no", "s360101@oslomet.no", "kari.nordmann@student.oslomet.no"]


@st.composite
def fnr_numbers(draw: st.DrawFn) -> str:
    """A valid synthetic fødselsnummer or D-nummer (what a person types by mistake)."""
    birth = draw(st.dates(min_value=date(1940, 1, 1), max_value=date(1999, 12, 28)))
    return synthetic_fnr(birth, female=draw(st.booleans()), d_number=draw(st.booleans()),
                         start=draw(st.integers(0, 499)))


@st.composite
def hostile_text(draw: st.DrawFn, fnr: str | None = None, max_size: int = 300) -> str:
    parts = [draw(st.one_of(st.sampled_from(MARKUP), st.text(max_size=max_size),
                            st.text(st.characters(codec="utf-8"), max_size=40)))]
    if fnr is not None:
        parts.append(draw(st.sampled_from([f"Mitt fødselsnummer er {fnr}.", f"fnr: {fnr[:6]} {fnr[6:]}",
                                           f"({fnr})", fnr])))
    draw(st.randoms(use_true_random=False)).shuffle(parts)
    return " ".join(parts)


def _maybe_fnr(draw: st.DrawFn) -> str | None:
    return draw(fnr_numbers()) if draw(st.booleans()) else None


def _absurd_date(draw: st.DrawFn) -> str:
    today = date.today()
    day = draw(st.one_of(st.dates(min_value=date(1900, 1, 1), max_value=date(1950, 1, 1)),
                         st.dates(min_value=date(2100, 1, 1), max_value=date(9999, 12, 31)),
                         st.sampled_from([date(2028, 2, 29), today, today - timedelta(days=1)]),
                         st.dates(min_value=today, max_value=today + timedelta(days=60))))
    return day.strftime("%d.%m.%Y")


def _fake_pdf(draw: st.DrawFn) -> tuple[str, str, bytes]:
    content = draw(st.sampled_from([b"Dette er en tekstfil, ikke en PDF.\n", b"%PDF", b"<html>vitnem\xc3\xa5l</html>",
                                    b"PK\x03\x04 a zip", b"%PDF-1.7\n% truncated"]))
    name = draw(st.sampled_from(["vitnemål.pdf", "../../etc/passwd.pdf", "<b>x</b>.pdf", "a" * 200 + ".pdf",
                                 "karakterer.PDF"]))
    return name, "application/pdf", content


def _real_pdf() -> tuple[str, str, bytes]:
    body = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>"
            b"endobj\n3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
    return "emnebeskrivelse.pdf", "application/pdf", body


def _options(form_id: int, element: str) -> list[str]:
    found = FORMS[form_id].element(element)
    return [o.external_id for o in found.options] if found else []


# ---- intake -------------------------------------------------------------------------------

json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
                           lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner,
                                                                                         max_size=5),
                           max_leaves=15)


@st.composite
def intake_requests(draw: st.DrawFn) -> HostileRequest:
    kind = draw(st.sampled_from(["wrong-types", "fnr-id", "unicode-id", "not-json", "not-object", "huge",
                                 "extra-fields", "odd-date"]))
    found: list[str] = []
    event: Any = {"id": "10001", "uri": "dfo:ansatte", "gyldigEtter": date.today().isoformat()}
    if kind == "wrong-types":
        event = {"id": draw(json_values), "uri": draw(json_values), "gyldigEtter": draw(json_values)}
    elif kind == "fnr-id":
        number = draw(fnr_numbers())
        found.append(number)
        event["id"] = draw(st.sampled_from([number, f"{number[:6]} {number[6:]}", f"ansatt-{number}"]))
    elif kind == "unicode-id":
        event["id"] = draw(st.one_of(st.sampled_from(MARKUP), st.text(min_size=1, max_size=50)))
    elif kind == "odd-date":
        event["gyldigEtter"] = draw(st.sampled_from(["2026-02-30", "0000-01-01", "9999-12-31", "i morgen", "",
                                                     "2026-13-01T25:00:00", "1970-01-01"]))
    elif kind == "extra-fields":
        event.update(draw(st.dictionaries(st.text(max_size=12), json_values, max_size=6)))
    if kind == "not-json":
        body = draw(st.one_of(st.binary(max_size=300), st.sampled_from([b"", b"{", b"\xff\xfe{}", b"null"])))
    elif kind == "not-object":
        body = json.dumps(draw(st.one_of(st.lists(json_values, max_size=4), st.integers(), st.text()))).encode()
    elif kind == "huge":
        size = draw(st.sampled_from([70_000, 300_000, 2_000_000, 8_000_000]))
        body = b'{"id":"10001","uri":"dfo:ansatte","pad":"' + b"A" * size + b'"}'
    else:
        body = json.dumps(event, ensure_ascii=draw(st.booleans())).encode("utf-8")
    signing = draw(st.sampled_from(["valid", "valid", "none", "garbage", "stale", "foreign"]))
    method = draw(st.sampled_from(["POST"] * 8 + ["GET", "PUT", "DELETE"]))
    content_type = draw(st.sampled_from(["application/json"] * 4 + ["text/plain", None,
                                                                     "application/x-www-form-urlencoded"]))
    return HostileRequest(kind, method, body, signing, content_type, tuple(found))


# ---- forms --------------------------------------------------------------------------------

@st.composite
def laptop_submissions(draw: st.DrawFn) -> HostileSubmission:
    number = _maybe_fnr(draw)
    feide = draw(st.one_of(st.sampled_from(EMAILS_BAD + EMAILS_OK), st.sampled_from(MARKUP)))
    answers = {"feide": feide, "model": draw(st.sampled_from(_options(LAPTOP_FORM_ID, "model"))),
               "location": draw(st.sampled_from(_options(LAPTOP_FORM_ID, "location"))),
               "cost_centre": draw(hostile_text(max_size=40)), "justification": draw(hostile_text(number)),
               "needed_by": _absurd_date(draw)}
    return HostileSubmission("laptop", answers, traits=("markup", "email", "date") + (("fnr-in-text",) if number else ()),
                             fnrs=(number,) if number else ())


@st.composite
def fritak_submissions(draw: st.DrawFn) -> HostileSubmission:
    applicant = draw(fnr_numbers())
    in_text = _maybe_fnr(draw)
    courses = draw(st.lists(st.sampled_from(_options(FRITAK_FORM_ID, "courses")), min_size=1, max_size=3, unique=True))
    answers = {"name": draw(st.one_of(st.sampled_from(MARKUP), hostile_text(max_size=80))),
               "student_number": draw(st.one_of(st.just("s351207"), hostile_text(max_size=20))),
               "fnr": draw(st.sampled_from([applicant, applicant[:-1] + str((int(applicant[-1]) + 1) % 10),
                                            "abc", f" {applicant} ", applicant[:6]])),
               "email": draw(st.sampled_from(EMAILS_BAD + EMAILS_OK)), "courses": courses,
               "grounds": draw(hostile_text(in_text)), "earlier_institution": draw(hostile_text(max_size=60)),
               "completed": _absurd_date(draw), "credits": draw(st.sampled_from(["7,5", "0", "-15", "99999", "10"]))}
    files = [draw(st.sampled_from(["fake", "fake", "real"])) for _ in range(draw(st.integers(0, 2)))]
    attachments = {f"attachment_{i}": [_fake_pdf(draw) if what == "fake" else _real_pdf()]
                   for i, what in enumerate(files, 1)}
    return HostileSubmission("fritak", answers, attachments,
                             traits=("markup", "email", "date", "fnr-field") + (("fake-pdf",) if "fake" in files else ())
                             + (("fnr-in-text",) if in_text else ()),
                             fnrs=tuple(n for n in (applicant, in_text) if n))


@st.composite
def room_submissions(draw: st.DrawFn) -> HostileSubmission:
    number = _maybe_fnr(draw)
    times = ["10:00", "11:30", "07:00", "25:00", "10:07", "23:59", "00:00", "12", "noon", "13:00"]
    answers = {"booker": draw(st.sampled_from(EMAILS_BAD + EMAILS_OK)),
               "room": draw(st.sampled_from(_options(ROOMS_FORM_ID, "room"))),
               "min_capacity": draw(st.sampled_from(["0", "-3", "1", "4", "100000", "2,5"])),
               "date": _absurd_date(draw), "start": draw(st.sampled_from(times)), "end": draw(st.sampled_from(times)),
               "purpose": draw(hostile_text(number))}
    return HostileSubmission("rooms", answers, traits=("markup", "email", "date", "time")
                             + (("fnr-in-text",) if number else ()), fnrs=(number,) if number else ())


def form_submissions() -> st.SearchStrategy[HostileSubmission]:
    return st.one_of(laptop_submissions(), fritak_submissions(), room_submissions())


# ---- peers --------------------------------------------------------------------------------

@st.composite
def malformed_bodies(draw: st.DrawFn) -> MalformedBody:
    kind = draw(st.sampled_from(["truncated-json", "html", "binary", "empty", "wrong-shape", "huge-nesting"]))
    if kind == "truncated-json":
        whole = json.dumps(draw(st.dictionaries(st.text(max_size=8), json_values, min_size=1, max_size=5))).encode()
        return MalformedBody(kind, whole[: max(1, len(whole) // 2)], "application/json")
    if kind == "html":
        return MalformedBody(kind, b"<html><body>" + draw(st.text(max_size=60)).encode() + b"</body></html>",
                             "application/json")
    if kind == "binary":
        return MalformedBody(kind, draw(st.binary(min_size=1, max_size=200)), "application/json")
    if kind == "empty":
        return MalformedBody(kind, b"", "application/json")
    if kind == "huge-nesting":
        depth = draw(st.integers(500, 5000))
        return MalformedBody(kind, b"[" * depth + b"]" * depth, "application/json")
    return MalformedBody(kind, json.dumps(draw(json_values)).encode(), "application/json")


# ---- drawing ------------------------------------------------------------------------------

def fnrs(values: list[Any]) -> list[str]:
    """Every fødselsnummer carried by these generated values."""
    return sorted({n for v in values for n in getattr(v, "fnrs", ())})


def draw(strategy: st.SearchStrategy[T], n: int, seed_value: int = 0) -> list[T]:
    """``n`` examples of ``strategy``, the same ones for the same seed (bounded: at most 20 rounds)."""
    out: list[T] = []
    for round_ in range(20):
        if len(out) >= n:
            break
        _collect(strategy, n - len(out), seed_value + round_, out.append)
    return out[:n]


def _collect(strategy: st.SearchStrategy[T], n: int, seed_value: int, keep: Callable[[T], None]) -> None:
    @settings(max_examples=n, database=None, deadline=None, phases=[Phase.generate], print_blob=False,
              suppress_health_check=list(HealthCheck))
    @seed(seed_value)
    @given(strategy)
    def collect(value: T) -> None:
        keep(value)

    collect()
