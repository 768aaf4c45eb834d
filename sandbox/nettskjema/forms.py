"""The sandbox's forms: element ids, types and answer options, in one place.

The hub's flows and the tests import the ids from here (``LAPTOP_FORM_ID``,
``FRITAK_FORM_ID``, the ``*_ELEMENTS`` tuples) so nobody spells an external id twice.
Answers are keyed by ``externalElementId`` (set by the form author; stable when questions
are reordered), options by ``externalAnswerOptionId``, matrix rows by the sub-element's
``externalElementId``. Numeric ids are what Nettskjema assigns; they are fixed here.

:func:`elements_json` renders a form as ``GET form/{id}/elements`` does (the same keys as
the real API, unused ones ``null``): elements that take no answer (HEADING, TEXT, IMAGE) have
no external id, and a PAGE_BREAK has no ``elementId`` and no ``sequence`` either (the
sequence starts again on each page). A DATE element's ``dateFormat`` is DATE, TIME or
DATE_TIME; its answers are ``"01.06.2023"``, ``"12:00"`` and ``"12.06.2023 13:33"``.

The event sign-up form (404105, ``fagdag``) has every element type and date format; it is
shared with nobody until a test grants it (``POST /_sandbox/forms/fagdag/grants``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sandbox.radicale.rooms import ROOMS as SANDBOX_ROOMS

__all__ = [
    "Option", "Row", "Element", "Form", "FORMS", "FORM_ALIASES", "LAPTOP_FORM_ID", "FRITAK_FORM_ID",
    "UNSHARED_FORM_ID", "EVENT_FORM_ID", "ROOMS_FORM_ID", "ROOMS_CANCEL_FORM_ID", "HUB_FORM_IDS", "UNSTOCKED_MODELS", "DOCX_MEDIA_TYPE", "form_by_ref",
    "elements_json",
]

LAPTOP_FORM_ID = 404101
FRITAK_FORM_ID = 404102
ROOMS_FORM_ID = 404103
ROOMS_CANCEL_FORM_ID = 404104
EVENT_FORM_ID = 404105  # every element type; granted by the tests that read it
UNSHARED_FORM_ID = 404199  # exists, but never granted to the hub client (403)
HUB_FORM_IDS = (LAPTOP_FORM_ID, FRITAK_FORM_ID, ROOMS_FORM_ID, ROOMS_CANCEL_FORM_ID)

UNSTOCKED_MODELS = frozenset({"surface-laptop"})  # listed in the form, not stocked by IT
DOCX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

QUESTION, RADIO, CHECKBOX, SELECT = "QUESTION", "RADIO", "CHECKBOX", "SELECT"
MATRIX_RADIO, MATRIX_CHECKBOX = "MATRIX_RADIO", "MATRIX_CHECKBOX"
DATE, NUMBER, LINEAR_SCALE, ATTACHMENT, HEADING = "DATE", "NUMBER", "LINEAR_SCALE", "ATTACHMENT", "HEADING"
TEXT, IMAGE, PAGE_BREAK = "TEXT", "IMAGE", "PAGE_BREAK"  # take no answers
TIME, DATE_TIME = "TIME", "DATE_TIME"  # a DATE element's dateFormat (DATE is the default)

OPTION_TYPES = frozenset({RADIO, CHECKBOX, SELECT})
MATRIX_TYPES = frozenset({MATRIX_RADIO, MATRIX_CHECKBOX})
TEXT_TYPES = frozenset({QUESTION, DATE, NUMBER, LINEAR_SCALE})


@dataclass(frozen=True)
class Option:
    option_id: int
    external_id: str
    text: str


@dataclass(frozen=True)
class Row:
    """A matrix row (``subElements`` in the API)."""

    sub_element_id: int
    external_id: str
    text: str


@dataclass(frozen=True)
class Element:
    element_id: int | None  # None: a PAGE_BREAK
    external_id: str | None
    element_type: str
    text: str
    options: tuple[Option, ...] = ()
    rows: tuple[Row, ...] = ()
    mandatory: bool = False
    minimum: int | None = None
    maximum: int | None = None
    description: str | None = None
    date_format: str | None = None  # DATE elements: DATE (when None), TIME or DATE_TIME
    image_url: str | None = None  # IMAGE elements (``text`` is the alt text)

    @property
    def format(self) -> str:
        """A DATE element's ``dateFormat``."""
        return self.date_format or DATE

    def option(self, external_id: str) -> Option | None:
        return next((o for o in self.options if o.external_id == external_id), None)

    def row(self, external_id: str) -> Row | None:
        return next((r for r in self.rows if r.external_id == external_id), None)


@dataclass(frozen=True)
class Form:
    form_id: int
    title: str
    elements: tuple[Element, ...]
    open_from: str = "2026-01-05T08:00:00"
    open_to: str | None = None
    modified: str = "2026-01-04T14:12:40"
    aliases: tuple[str, ...] = field(default=())

    def element(self, external_id: str) -> Element | None:
        return next((e for e in self.elements if e.external_id == external_id), None)

    @property
    def questions(self) -> tuple[Element, ...]:
        """Elements that take answers (headings and texts do not)."""
        return tuple(e for e in self.elements if e.external_id is not None)


def _options(first_id: int, *pairs: tuple[str, str]) -> tuple[Option, ...]:
    return tuple(Option(first_id + i, ext, text) for i, (ext, text) in enumerate(pairs))


def _rows(first_id: int, *pairs: tuple[str, str]) -> tuple[Row, ...]:
    return tuple(Row(first_id + i, ext, text) for i, (ext, text) in enumerate(pairs))


LAPTOP = Form(
    form_id=LAPTOP_FORM_ID,
    title="Bestille laptop",
    aliases=("laptop",),
    elements=(
        Element(5101000, None, HEADING, "Bestilling av bærbar PC til ansatte"),
        Element(5101001, "feide", QUESTION, "Feide-brukernavn (f.eks. kari@oslomet.no)", mandatory=True),
        Element(5101002, "model", RADIO, "Hvilken PC ønsker du?", mandatory=True, options=_options(
            8101001, ("thinkpad-t14", "Lenovo ThinkPad T14 Gen 5"),
            ("macbook-air-13", "Apple MacBook Air 13 M3"), ("latitude-7450", "Dell Latitude 7450"),
            ("surface-laptop", "Microsoft Surface Laptop 7"))),
        Element(5101003, "location", SELECT, "Hvor vil du hente PC-en?", mandatory=True, options=_options(
            8101011, ("pilestredet", "Pilestredet 35, Oslo"), ("kjeller", "Kjeller"),
            ("sandvika", "Sandvika"))),
        Element(5101004, "cost_centre", QUESTION, "Koststed (f.eks. 2110)"),
        Element(5101005, "justification", QUESTION, "Begrunnelse for bestillingen"),
        Element(5101006, "needed_by", DATE, "Når trenger du PC-en?"),
        Element(None, None, PAGE_BREAK, ""),
        Element(5101007, "accessories", MATRIX_CHECKBOX, "Tilbehør",
                options=_options(8101021, ("yes", "Ja")),
                rows=_rows(6101001, ("dock", "Dokkingstasjon"), ("headset", "Hodesett"), ("bag", "Veske"))),
        Element(5101008, "current_satisfaction", LINEAR_SCALE, "Hvor fornøyd er du med dagens PC?",
                minimum=1, maximum=5),
    ),
)

FRITAK = Form(
    form_id=FRITAK_FORM_ID,
    title="Søknad om fritak",
    aliases=("fritak",),
    elements=(
        Element(5102000, None, HEADING, "Søknad om fritak/godskriving på grunnlag av tidligere utdanning"),
        Element(5102020, None, TEXT, "", description="<p>Les om fritak og godskriving før du søker.</p>"),
        Element(5102021, None, IMAGE, "OsloMets logo", image_url="https://www.oslomet.no/logo.png"),
        Element(5102001, "name", QUESTION, "Fullt navn", mandatory=True),
        Element(5102002, "student_number", QUESTION, "Studentnummer (f.eks. s351234)", mandatory=True),
        Element(5102003, "fnr", QUESTION, "Fødselsnummer eller D-nummer (11 siffer)", mandatory=True),
        Element(5102004, "email", QUESTION, "E-postadresse"),
        Element(5102005, "courses", CHECKBOX, "Hvilke emner søker du fritak for?", mandatory=True,
                options=_options(
                    8102001, ("DATA1100", "Programmering 1"),
                    ("DATA1200", "Webutvikling og inkluderende design"), ("DAPE1400", "Programmering"),
                    ("MATA1000", "Matematikk for ingeniørfag"), ("ITPE3100", "Datakommunikasjon"))),
        Element(5102006, "grounds", QUESTION, "Begrunnelse for søknaden"),
        Element(5102007, "earlier_institution", QUESTION, "Tidligere utdanningsinstitusjon"),
        Element(5102008, "completed", DATE, "Når fullførte du utdanningen?"),
        Element(5102009, "credits", NUMBER, "Antall studiepoeng (f.eks. 7,5)"),
        Element(None, None, PAGE_BREAK, ""),
        Element(5102010, "level", MATRIX_RADIO, "Nivå på tidligere utdanning",
                options=_options(8102011, ("yes", "Ja"), ("no", "Nei")),
                rows=_rows(6102001, ("bachelor", "Bachelornivå"), ("master", "Masternivå"))),
        Element(5102011, "attachment_1", ATTACHMENT, "Vedlegg 1 (vitnemål, PDF)"),
        Element(5102012, "attachment_2", ATTACHMENT, "Vedlegg 2 (emnebeskrivelse, PDF)"),
        Element(5102013, "attachment_3", ATTACHMENT, "Vedlegg 3 (annen dokumentasjon, PDF)"),
    ),
)

ROOMS = Form(
    form_id=ROOMS_FORM_ID,
    title="Bestille grupperom",
    aliases=("rooms", "grupperom"),
    elements=(
        Element(5103000, None, HEADING, "Bestill grupperom i Pilestredet eller på Kjeller (08–20, inntil 4 timer)"),
        Element(5103001, "booker", QUESTION, "Feide-brukernavn (e-post, f.eks. kari@oslomet.no)", mandatory=True),
        Element(5103002, "room", SELECT, "Hvilket rom?", mandatory=True, options=_options(
            8103001, ("any", "Hvilket som helst ledig rom som er stort nok"),
            *[(r.id, f"{r.id} – {r.name}, {r.building} ({r.capacity} plasser)") for r in SANDBOX_ROOMS])),
        Element(5103003, "min_capacity", NUMBER, "Hvor mange er dere?", mandatory=True, minimum=1),
        Element(5103004, "date", DATE, "Dato", mandatory=True),
        Element(5103005, "start", QUESTION, "Fra klokken (TT:MM, hele kvarter)", mandatory=True),
        Element(5103006, "end", QUESTION, "Til klokken (TT:MM, hele kvarter)", mandatory=True),
        Element(5103007, "purpose", QUESTION, "Formål (f.eks. kollokvie i DATA1100)", mandatory=True),
    ),
)

ROOMS_CANCEL = Form(
    form_id=ROOMS_CANCEL_FORM_ID,
    title="Avbestille grupperom",
    aliases=("rooms-cancel", "avbestille"),
    elements=(
        Element(5104001, "booker", QUESTION, "Feide-brukernavn (e-post) du bestilte med", mandatory=True),
        Element(5104002, "booking_ref", QUESTION, "Referanse fra bekreftelsen (gr-…)", mandatory=True),
    ),
)

UNSHARED = Form(
    form_id=UNSHARED_FORM_ID,
    title="Medarbeiderundersøkelse 2026 (ikke delt med hubben)",
    aliases=("unshared",),
    elements=(
        Element(5199001, "trivsel", LINEAR_SCALE, "Hvor godt trives du?", minimum=1, maximum=7),
        Element(5199002, "kommentar", QUESTION, "Kommentar"),
    ),
)

EVENT = Form(
    form_id=EVENT_FORM_ID,
    title="Påmelding til fagdag",
    aliases=("fagdag", "event"),
    elements=(
        Element(5105000, None, HEADING, "Fagdag for IT-ansatte"),
        Element(5105001, None, TEXT, "", description="<p>Programmet kommer i egen e-post.</p>"),
        Element(5105002, None, IMAGE, "Bilde fra fjorårets fagdag", image_url="https://www.oslomet.no/fagdag.jpg"),
        Element(5105003, "name", QUESTION, "Navn", mandatory=True),
        Element(5105004, "track", RADIO, "Hvilket spor?", options=_options(
            8105001, ("drift", "Drift"), ("utvikling", "Utvikling"))),
        Element(5105005, "topics", CHECKBOX, "Interesser", options=_options(
            8105011, ("sky", "Sky"), ("sikkerhet", "Sikkerhet"), ("ki", "Kunstig intelligens"))),
        Element(None, None, PAGE_BREAK, ""),
        Element(5105006, "day", DATE, "Hvilken dag kommer du?"),
        Element(5105007, "lunch", DATE, "Når vil du spise lunsj?", date_format=TIME),
        Element(5105008, "arrival", DATE, "Når ankommer du?", date_format=DATE_TIME),
        Element(5105009, "sessions", MATRIX_RADIO, "Økter", options=_options(8105021, ("ja", "Ja"), ("nei", "Nei")),
                rows=_rows(6105001, ("morgen", "Morgenøkt"), ("kveld", "Kveldsøkt"))),
        Element(5105010, "guests", NUMBER, "Antall gjester"),
        Element(5105011, "cv", ATTACHMENT, "Kort CV (valgfritt)"),
    ),
)

FORMS: dict[int, Form] = {form.form_id: form for form in (LAPTOP, FRITAK, ROOMS, ROOMS_CANCEL, EVENT, UNSHARED)}
FORM_ALIASES: dict[str, int] = {alias: f.form_id for f in FORMS.values() for alias in f.aliases}


def form_by_ref(ref: str | int) -> Form | None:
    """A form by id (``404101``) or alias (``laptop``, ``fritak``)."""
    text = str(ref).strip()
    if text.isdigit():
        return FORMS.get(int(text))
    form_id = FORM_ALIASES.get(text.lower())
    return FORMS.get(form_id) if form_id else None


def _option_json(option: Option, element: Element, sequence: int) -> dict[str, Any]:
    return {
        "answerOptionId": option.option_id, "sequence": sequence, "text": option.text,
        "redirectToForm": None, "isPreselected": False, "isCorrect": False,
        "additionalRecipientEmail": None, "externalAnswerOptionId": option.external_id,
        "image": None, "imageUrl": None, "altText": None,
        "externalElementId": None if element.rows else element.external_id,
        "textOrAltText": option.text,
    }


def _element_json(element: Element, sequence: int | None) -> dict[str, Any]:
    is_question = element.external_id is not None
    kind = element.element_type
    return {
        "elementId": element.element_id,
        "questionId": element.element_id + 100000 if element.element_id and is_question and not element.rows else None,
        "text": element.text if kind not in (TEXT, IMAGE, PAGE_BREAK) else None,
        "description": element.description,
        "elementType": kind,
        "dateFormat": element.format if kind == DATE else None,
        "sequence": sequence,
        "maxSelectedAnswerOptions": 0 if kind in (CHECKBOX, MATRIX_CHECKBOX) else None,
        "imageUrl": element.image_url,
        "altText": element.text if kind == IMAGE else None,
        "linearScaleType": "NUMBERED" if kind == LINEAR_SCALE else None,
        "isMandatory": element.mandatory,
        "isHorizontal": False,
        "externalElementId": element.external_id,
        "minimumValue": element.minimum,
        "maximumValue": element.maximum,
        "minimumValueText": "Svært misfornøyd" if kind == LINEAR_SCALE else None,
        "maximumValueText": "Svært fornøyd" if kind == LINEAR_SCALE else None,
        "numberOfDecimals": 1 if kind == NUMBER else None,
        "answerOptions": [_option_json(o, element, i) for i, o in enumerate(element.options, 1)],
        "subElements": [{"subElementId": r.sub_element_id, "questionId": r.sub_element_id,
                         "sequence": i, "description": None, "text": r.text, "isMandatory": False,
                         "externalElementId": r.external_id, "sendAdditionalRecipientEmail": False}
                        for i, r in enumerate(element.rows, 1)],
        "isAnswerHashed": False,
        "maxNumberOfCharacters": None,
    }


def elements_json(form: Form) -> list[dict[str, Any]]:
    """``GET form/{id}/elements``: every element in order, with options and matrix rows; the
    sequence counts within a page, and a PAGE_BREAK has none."""
    rendered, sequence = [], 0
    for element in form.elements:
        if element.element_type == PAGE_BREAK:
            rendered.append(_element_json(element, None))
            sequence = 0
            continue
        sequence += 1
        rendered.append(_element_json(element, sequence))
    return rendered
