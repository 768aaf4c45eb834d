"""File upload and download (N5WS v1.1 chapter 6, "Hente og overføre filer").

- POST raw bytes to a dokumentbeskrivelse's ``arkivstruktur/fil/`` link → 201 and a new
  dokumentobjekt (sjekksum SHA-256, filstoerrelse, mimeType, filnavn from
  ``Content-Disposition``, format and variantformat derived from the content).
- POST (or PUT) raw bytes to a dokumentobjekt's ``arkivstruktur/fil/`` link → the values
  declared when the dokumentobjekt was created are verified (400 on mismatch), the rest
  are filled in. A file that is already there is never overwritten (409).
- Larger than the configured limit (``bulkgrense``) → 403; chunked uploads are not
  implemented (501).
- GET the dokumentobjekt's ``referanseFil`` → the bytes with the stored MIME type, or
  406 if ``Accept`` neither matches it nor allows ``*/*``.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any
from urllib.parse import quote, unquote

from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import Response

from sandbox.noark5.resources import Ctx, new_object, render
from sandbox.noark5.responses import ApiError, check_etag, noark_response
from sandbox.noark5.schema import CODE_LISTS
from sandbox.noark5.store import Obj

__all__ = ["upload_new", "upload_into", "download", "detect_format", "filename_from"]

_ALGORITHMS = {"SHA-256": "sha256", "SHA256": "sha256", "SHA-512": "sha512", "SHA512": "sha512",
               "SHA-1": "sha1", "SHA1": "sha1", "MD5": "md5"}
_PART = re.compile(rb"pdfaid:part(?:>|\s*=\s*[\"'])\s*(\d)")
_CONFORMANCE = re.compile(rb"pdfaid:conformance(?:>|\s*=\s*[\"'])\s*([ABUabu])")


def detect_format(content: bytes) -> tuple[str, str]:
    """(PRONOM format code, variantformat) recognised from the bytes."""
    if content.startswith(b"%PDF-"):
        part, conformance = _PART.search(content), _CONFORMANCE.search(content)
        if part and part.group(1) == b"1" and conformance:
            return ("fmt/95" if conformance.group(1).upper() == b"A" else "fmt/354"), "A"
    return "av/0", "P"


def filename_from(header: str | None) -> str | None:
    """The file name in a ``Content-Disposition`` header (``filename*`` preferred)."""
    if not header:
        return None
    star = re.search(r"filename\*\s*=\s*([^']*)'[^']*'([^;]+)", header, re.IGNORECASE)
    if star:
        return unquote(star.group(2).strip(), encoding=star.group(1) or "utf-8")
    plain = re.search(r'filename\s*=\s*"((?:[^"\\]|\\.)*)"|filename\s*=\s*([^;\s]+)', header, re.IGNORECASE)
    if plain:
        return (plain.group(1) if plain.group(1) is not None else plain.group(2)).replace('\\"', '"')
    return None


async def _read_body(ctx: Ctx, limit: int) -> bytes:
    if ctx.request.headers.get("x-upload-content-length") is not None:
        raise ApiError(501, "chunked upload sessions are not implemented; POST the whole file")
    declared = ctx.request.headers.get("content-length")
    too_large = declared is not None and declared.isdigit() and int(declared) > limit
    chunks: list[bytes] = []
    size = 0
    async for chunk in ctx.request.stream():  # drain even when refusing, so the client sees 403
        size += len(chunk)
        if size > limit:
            too_large = True
        if not too_large:
            chunks.append(chunk)
    if too_large:
        raise ApiError(403, f"the file is larger than bulkgrense ({limit} bytes); "
                            f"use the chunked upload method")
    if size == 0:
        raise ApiError(400, "the upload is empty")
    return b"".join(chunks)


def _mime(ctx: Ctx) -> str:
    return ctx.request.headers.get("content-type", "application/octet-stream").split(";")[0].strip()


def _derived(ctx: Ctx, content: bytes, declared: dict[str, Any]) -> dict[str, Any]:
    code, variant = detect_format(content)
    algorithm = str(declared.get("sjekksumAlgoritme") or "SHA-256")
    hasher = _ALGORITHMS.get(algorithm.upper())
    if hasher is None:
        raise ApiError(400, f"unsupported sjekksumAlgoritme {algorithm!r}; use SHA-256")
    fields: dict[str, Any] = {
        "mimeType": _mime(ctx),
        "filstoerrelse": len(content),
        "sjekksum": hashlib.new(hasher, content).hexdigest(),
        "sjekksumAlgoritme": algorithm,
        "format": {"kode": code, "kodenavn": CODE_LISTS["format"][code]},
        "variantformat": {"kode": variant, "kodenavn": CODE_LISTS["variantformat"][variant]},
    }
    name = filename_from(ctx.request.headers.get("content-disposition"))
    if name:
        fields["filnavn"] = name
    return fields


def _verify(declared: dict[str, Any], actual: dict[str, Any]) -> None:
    wrong = []
    for name in ("mimeType", "filstoerrelse", "filnavn"):
        if declared.get(name) is not None and name in actual and declared[name] != actual[name]:
            wrong.append(f"{name} declared {declared[name]!r} but received {actual[name]!r}")
    if declared.get("sjekksum") and str(declared["sjekksum"]).lower() != actual["sjekksum"]:
        wrong.append(f"sjekksum declared {declared['sjekksum']} but the received file has "
                     f"{actual['sjekksum']}")
    if wrong:
        raise ApiError(400, "the uploaded file does not match the dokumentobjekt: " + "; ".join(wrong))


def _store_file(ctx: Ctx, obj: Obj, content: bytes, fields: dict[str, Any]) -> Response:
    data = {**obj.data, **fields, "referanseDokumentfil": ctx.hrefs.file(obj.system_id)}
    try:
        ctx.store.put_file(obj.system_id, content)
        updated = ctx.store.update(obj, data)
    except SQLAlchemyError as exc:  # the standard: storage failure → 422
        raise ApiError(422, f"the file could not be stored ({exc.__class__.__name__}); "
                            f"delete the dokumentobjekt and upload again") from exc
    headers = {"ETag": updated.etag, "Location": ctx.hrefs.entity("dokumentobjekt", obj.system_id)}
    return noark_response(render(ctx, updated), ctx.request, 201, headers)


async def upload_new(ctx: Ctx, description: Obj, limit: int) -> Response:
    """Bytes posted to a dokumentbeskrivelse: create the dokumentobjekt that holds them."""
    content = await _read_body(ctx, limit)
    fields = _derived(ctx, content, {})
    version = len(ctx.store.children(description.system_id, ["dokumentobjekt"])) + 1
    obj = new_object(ctx, "dokumentobjekt", description, {"versjonsnummer": version})
    return _store_file(ctx, obj, content, fields)


async def upload_into(ctx: Ctx, obj: Obj, limit: int) -> Response:
    """Bytes posted to a dokumentobjekt created beforehand: verify what it declared."""
    check_etag(ctx.request, obj.etag)
    if ctx.store.has_file(obj.system_id):
        raise ApiError(409, "this dokumentobjekt already has its file; delete it and create a new one")
    content = await _read_body(ctx, limit)
    actual = _derived(ctx, content, obj.data)
    _verify(obj.data, actual)
    keep = {k: v for k, v in obj.data.items() if v is not None and k in ("format", "variantformat")}
    return _store_file(ctx, obj, content, {**actual, **keep})


def _accepts(accept: str | None, mime: str) -> bool:
    if not accept:
        return True
    mime = mime.lower()
    for part in accept.split(","):
        media, *params = [p.strip() for p in part.split(";")]
        if any(p.replace(" ", "") in ("q=0", "q=0.0", "q=0.00", "q=0.000") for p in params):
            continue
        media = media.lower()
        if media in ("*/*", mime) or (media.endswith("/*") and mime.startswith(media[:-1])):
            return True
    return False


def download(ctx: Ctx, obj: Obj) -> Response:
    content = ctx.store.get_file(obj.system_id)
    if content is None:
        raise ApiError(404, "this dokumentobjekt has no file yet")
    mime = str(obj.data.get("mimeType") or "application/octet-stream")
    if not _accepts(ctx.request.headers.get("accept"), mime):
        raise ApiError(406, f"the file is {mime}; Accept must allow it or */*")
    headers = {"ETag": obj.etag}
    name = obj.data.get("filnavn")
    if name:
        headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(str(name))}"
    return Response(content, media_type=mime, headers=headers)
