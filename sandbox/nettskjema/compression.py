"""gzip for the API's JSON and NDJSON answers, as ``nettskjema.no`` sends them.

A client that sends ``Accept-Encoding: gzip`` (httpx does by default) gets ``form/me``,
``elements``, a submission, the NDJSON streams (compressed chunk by chunk: still streamed)
and error bodies with ``Content-Encoding: gzip``, however small. Files and PDFs are sent as
they are. Every gzipped answer counts in ``stats["gzip_responses"]`` (``GET /_sandbox/stats``),
so a test can tell that its client really read gzip.
"""

from __future__ import annotations

from collections import Counter

from starlette.datastructures import Headers
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["GzipApi"]


class GzipApi:
    def __init__(self, app: ASGIApp, stats: Counter[str], prefix: str) -> None:
        self.app = app  # the test that walks every control route follows ``.app``
        self.stats = stats
        self.prefix = prefix
        self._gzip = GZipMiddleware(app, minimum_size=0, exclude_content_types=())

    def _compressed(self, path: str) -> bool:
        return (path.startswith(self.prefix + "/") and "/form/submission/attachment/" not in path
                and not path.endswith("/pdf"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._compressed(scope["path"]):
            await self.app(scope, receive, send)
            return

        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start" and \
                    Headers(raw=message.get("headers", [])).get("content-encoding") == "gzip":
                self.stats["gzip_responses"] += 1
            await send(message)

        await self._gzip(scope, receive, counted)
