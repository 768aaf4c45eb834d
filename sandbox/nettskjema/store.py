"""The Nettskjema sandbox's data: one SQLite file in ``--data-dir``, seeded on first start.

Submissions keep their answer records as JSON (exactly what the API serves); attachments
are blobs with the Content-Type their download is served with (``""``: none, as the real
service sends some files; the answer records the ``mediaType`` either way); grants say which ``<clientId>@apiclient`` sees which form. Ids are global and
increasing like the real service's (``submissionId``, ``answerId``, ``answerAttachmentId``).
Readers that stream use :meth:`NettskjemaStore.submission_batches` — keyset pages, so no
query holds more than one page in memory however many submissions a form has.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sandbox.nettskjema.answers import UploadedFile, build_answers, synthetic_answers
from sandbox.nettskjema.forms import FORMS, HUB_FORM_IDS, Form
from sandbox.nettskjema.seed import seed_submissions

__all__ = ["NettskjemaStore", "OSLO", "local_time", "FIRST_SUBMISSION_ID"]

OSLO = ZoneInfo("Europe/Oslo")
FIRST_SUBMISSION_ID = 31000001
_FIRST_ANSWER_ID = 180000001
_FIRST_ATTACHMENT_ID = 640001

_SCHEMA = """
CREATE TABLE IF NOT EXISTS submissions (
    submission_id INTEGER PRIMARY KEY, form_id INTEGER NOT NULL, created TEXT NOT NULL,
    modified TEXT NOT NULL, answer_time INTEGER, person_name TEXT, person_email TEXT,
    answers TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS ix_submissions_form ON submissions (form_id, submission_id);
CREATE TABLE IF NOT EXISTS attachments (
    attachment_id INTEGER PRIMARY KEY, submission_id INTEGER NOT NULL, filename TEXT NOT NULL,
    media_type TEXT NOT NULL, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS grants (form_id INTEGER NOT NULL, principal TEXT NOT NULL,
    PRIMARY KEY (form_id, principal));
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


def local_time(value: str | None = None) -> str:
    """Europe/Oslo wall time without an offset, as Nettskjema writes ``createdDate``."""
    if value is None:
        moment = datetime.now(OSLO)
    else:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is not None:
            moment = moment.astimezone(OSLO)
    return moment.replace(tzinfo=None, microsecond=0).isoformat()


class NettskjemaStore:
    def __init__(self, data_dir: Path, *, today: date | None = None) -> None:
        self.path = data_dir / "nettskjema.sqlite3"
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        if self._counter("seeded", 0) == 0:
            self._seed(today or datetime.now(OSLO).date())

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- ids and seed -------------------------------------------------------------------
    def _counter(self, name: str, default: int) -> int:
        row = self._db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else default

    def _take(self, name: str, first: int, count: int = 1) -> int:
        """Reserve ``count`` consecutive ids; return the first (call inside a transaction)."""
        start = self._counter(name, first)
        self._db.execute("INSERT OR REPLACE INTO counters (name, value) VALUES (?, ?)", (name, start + count))
        return start

    def _seed(self, today: date) -> None:
        """All seed submissions and the ``seeded`` mark in one transaction: all or nothing."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for body in seed_submissions(today):
                    self._add(FORMS[int(body["formId"])], body)
                self._db.execute("INSERT OR REPLACE INTO counters (name, value) VALUES ('seeded', 1)")
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    # -- grants -------------------------------------------------------------------------
    def grant(self, form_id: int, principal: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO grants (form_id, principal) VALUES (?, ?)",
                             (form_id, principal))

    def grant_hub_forms(self, principal: str) -> None:
        for form_id in HUB_FORM_IDS:
            self.grant(form_id, principal)

    def granted(self, form_id: int, principal: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM grants WHERE form_id = ? AND principal = ?",
                                    (form_id, principal)).fetchone() is not None

    def forms_of(self, principal: str) -> list[int]:
        with self._lock:
            rows = self._db.execute("SELECT form_id FROM grants WHERE principal = ? ORDER BY form_id",
                                    (principal,)).fetchall()
        return [int(r[0]) for r in rows]

    # -- writes -------------------------------------------------------------------------
    def _insert(self, form: Form, created: str, records: list[dict[str, Any]], files: Sequence[UploadedFile],
                person: dict[str, Any], answer_time: int, submission_id: int) -> None:
        first_answer = self._take("answer", _FIRST_ANSWER_ID, len(records))
        answers = [{"submissionId": submission_id, "answerId": first_answer + i, **record}
                   for i, record in enumerate(records)]
        for upload in files:
            attachment_id = self._take("attachment", _FIRST_ATTACHMENT_ID)
            answer = answers[upload.answer_index]
            answer["answerAttachmentId"] = attachment_id
            answer["attachment"] = {"answerAttachmentId": attachment_id, "filename": upload.filename,
                                    "mediaType": upload.media_type, "size": len(upload.data)}
            self._db.execute("INSERT INTO attachments VALUES (?, ?, ?, ?, ?)",
                             (attachment_id, submission_id, upload.filename, upload.served_type, upload.data))
        self._db.execute("INSERT INTO submissions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         (submission_id, form.form_id, created, created, answer_time, person.get("name"),
                          person.get("email"), json.dumps(answers, ensure_ascii=False)))

    def _add(self, form: Form, body: dict[str, Any]) -> int:
        """Validate and insert one submission (inside the caller's transaction)."""
        records, files = build_answers(form, body)
        created = local_time(str(body["createdDate"]) if body.get("createdDate") else None)
        person = body.get("person") if isinstance(body.get("person"), dict) else {}
        answer_time = int(body.get("answerTime") or 30000 + 1000 * len(records))
        submission_id = self._take("submission", FIRST_SUBMISSION_ID)
        self._insert(form, created, records, files, person or {}, answer_time, submission_id)
        return submission_id

    def add_submission(self, form: Form, body: dict[str, Any]) -> int:
        """Validate (``SubmissionError``) and store one submission; return its id."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                submission_id = self._add(form, body)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return submission_id

    def add_bulk(self, form: Form, count: int) -> tuple[int, int]:
        """``count`` synthetic submissions in one transaction; return (first id, last id)."""
        created = local_time()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                first = self._take("submission", FIRST_SUBMISSION_ID, count)
                for offset in range(count):
                    self._insert(form, created, synthetic_answers(form, offset), (), {}, 20000 + offset,
                                 first + offset)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return first, first + count - 1

    # -- reads --------------------------------------------------------------------------
    def form_stats(self, form_id: int) -> tuple[int, str | None]:
        with self._lock:
            count, last = self._db.execute(
                "SELECT COUNT(*), MAX(created) FROM submissions WHERE form_id = ?", (form_id,)).fetchone()
        return int(count), last

    def submission(self, submission_id: int) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT submission_id, form_id, created, modified, answer_time, person_name, person_email,"
                " answers FROM submissions WHERE submission_id = ?", (submission_id,)).fetchone()
        return _row(row) if row else None

    def submission_batches(self, form_id: int, *, size: int = 500,
                           with_answers: bool = False) -> Iterator[list[dict[str, Any]]]:
        """Every submission of a form in id order, one keyset page at a time."""
        after = 0
        answers = "answers" if with_answers else "NULL"
        while True:
            with self._lock:
                rows = self._db.execute(
                    "SELECT submission_id, form_id, created, modified, answer_time, person_name,"
                    f" person_email, {answers} FROM submissions WHERE form_id = ? AND submission_id > ?"
                    " ORDER BY submission_id LIMIT ?", (form_id, after, size)).fetchall()
            if not rows:
                return
            after = int(rows[-1][0])
            yield [_row(r) for r in rows]

    def attachment(self, attachment_id: int) -> tuple[int, str, str, bytes] | None:
        """(submission id, filename, the Content-Type to serve it with or "" for none, bytes)."""
        with self._lock:
            row = self._db.execute("SELECT submission_id, filename, media_type, data FROM attachments"
                                   " WHERE attachment_id = ?", (attachment_id,)).fetchone()
        return (int(row[0]), str(row[1]), str(row[2]), bytes(row[3])) if row else None


def _row(row: Sequence[Any]) -> dict[str, Any]:
    return {"submissionId": int(row[0]), "formId": int(row[1]), "createdDate": row[2],
            "modifiedDate": row[3], "answerTime": row[4], "personName": row[5], "personEmail": row[6],
            "answers": json.loads(row[7]) if row[7] else None}
