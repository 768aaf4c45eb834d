"""Is a file answer what Nettskjema sent? A garbled one is the wire's fault, not the file owner's.

``GET form/submission/attachment/{id}`` answers 200 with the file's bytes: with a
Content-Type equal to the ``mediaType`` recorded for the attachment, or none at all (both
recorded against the real v3 API), and as many bytes as the recorded ``size``. A proxy or
a failing Nettskjema can instead answer 200 with its own page (``text/html``, a JSON error
body), with the file cut short, or with a redirect. Handing that over as the file would
make the applicant's document look broken ("not a PDF") and blame them for a peer fault.

:func:`check_file` raises :class:`~hub.errors.MalformedResponse` (a ``TransientError``:
fetched again by the step's retry) when the answer is

- not 200 (a 3xx is not followed; some other 2xx is not a file);
- shorter or longer than its own ``Content-Length`` (identity encoding only);
- shorter than the ``size`` Nettskjema recorded for the attachment;
- a page type (HTML, JSON, plain text, XML, ``*+json``, ``*+xml``) where another media
  type was recorded, or where none is known. No Content-Type at all, or
  ``application/octet-stream``, is accepted.

A file that passes is returned as it is: if its content is not what its name promises,
that is the file owner's to fix (the services judge the content).
"""

from __future__ import annotations

import httpx

from hub.errors import MalformedResponse

__all__ = ["PAGE_TYPES", "check_file", "is_page", "media_type_of"]

# What a proxy, a gateway or an error handler answers with; a file is served as itself.
PAGE_TYPES = frozenset({"text/html", "application/xhtml+xml", "application/json", "application/problem+json",
                        "text/plain", "application/xml", "text/xml"})


def is_page(media_type: str) -> bool:
    """A media type a proxy or an error handler answers with (``*+json`` and ``*+xml`` too)."""
    return media_type in PAGE_TYPES or media_type.endswith(("+json", "+xml"))


def media_type_of(value: str | None) -> str:
    """``"Text/HTML; charset=utf-8"`` → ``"text/html"``; absent → ``""``."""
    return (value or "").split(";", 1)[0].strip().lower()


def _problem(response: httpx.Response, media_type: str | None, size: int) -> str | None:
    if response.status_code != 200:
        return f"status {response.status_code} instead of 200 and the file"
    got = len(response.content)
    declared = response.headers.get("content-length", "")
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if declared.strip().isdigit() and encoding == "identity" and got != int(declared):
        return f"{got} bytes where its Content-Length says {int(declared)}"
    if size > 0 and got < size:
        return f"{got} bytes where Nettskjema recorded {size} (cut short)"
    served, recorded = media_type_of(response.headers.get("content-type")), media_type_of(media_type)
    if is_page(served) and served != recorded:
        return f"a {served} page where Nettskjema recorded {recorded or 'a file'}"
    return None


def check_file(response: httpx.Response, what: str, *, system: str, media_type: str | None = None,
               size: int = 0) -> bytes:
    """The bytes of ``response`` if it is the file Nettskjema recorded, else ``MalformedResponse``
    (for ``system``).

    ``what`` names the file without personal data (``"attachment 538819"``); ``media_type``
    and ``size`` are the attachment's recorded ``mediaType`` and ``size`` (unknown: None, 0).
    """
    problem = _problem(response, media_type, size)
    if problem is not None:
        raise MalformedResponse(
            f"Nettskjema answered {what} ({response.request.method} {response.request.url.path}) with "
            f"{problem}", system=system,
            hint="A proxy or Nettskjema failed while sending the file; it is fetched again. The file "
                 "itself is not at fault: nobody is told to send it again.")
    return response.content
