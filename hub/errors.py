"""The hub's one error tree.

::

    HubError                      base; message is masked for fødselsnummer
    ├── TransientError            timeouts, connect errors, 429, 502, 503, 504 — retried
    │   └── MalformedResponse     a 2xx body that is not JSON at all (cut short, a proxy's
    │                             HTML page, nested past any sane depth, not UTF-8, empty):
    │                             the peer or a proxy misbehaving, not bad data — retried
    └── PermanentError            never retried blindly; goes to dead letters
        ├── ConfigError           401/403, missing or wrong settings — fix the configuration
        ├── NotFound              404 — the thing asked for does not exist
        ├── Conflict              409/412 — someone else changed the record first
        └── InvalidInput          400/422, failed validation — fix the data, then replay
                                  (also a body that IS JSON but does not fit the models)

Every error carries ``hint``: one sentence telling an operator what to do. No raw
``httpx`` or SQLAlchemy exception leaves a connector; :func:`hub.http.translate` maps
them here.
"""

from __future__ import annotations

from hub.privacy import mask

__all__ = [
    "HubError",
    "TransientError",
    "MalformedResponse",
    "PermanentError",
    "ConfigError",
    "NotFound",
    "Conflict",
    "InvalidInput",
]


class HubError(Exception):
    """Base of every error the hub raises on purpose."""

    default_hint = "See the hub logs for details."

    def __init__(
        self,
        message: str,
        *,
        system: str | None = None,
        status: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = mask(message)
        self.system = system
        self.status = status
        self.hint = mask(hint) if hint else self.default_hint
        super().__init__(self.message)

    def __str__(self) -> str:
        where = f"[{self.system}] " if self.system else ""
        return f"{where}{self.message} — {self.hint}"

    @property
    def kind(self) -> str:
        """Short stable name used in the ledger (``transient``, ``config``, ...)."""
        # The nearest kind up the class tree: a subclass declared elsewhere (SlotsUnavailable,
        # ItemBusy) is still ``transient``, so it is retried by every rule keyed on the kind.
        return next(_KIND[cls] for cls in type(self).__mro__ if cls in _KIND)


class TransientError(HubError):
    default_hint = "The system may be down or overloaded; the hub retries by itself."


class MalformedResponse(TransientError):
    """A success answer whose body cannot be parsed as JSON: a fault on the wire, not in the data.

    Its ``kind`` stays ``transient`` so every rule keyed on the kind retries it as before.
    """

    default_hint = ("The peer answered with a body that is not valid JSON (a proxy or the peer "
                    "failing); it is retried.")


class PermanentError(HubError):
    default_hint = "Retrying will not help; fix the cause, then replay the item."


class ConfigError(PermanentError):
    default_hint = "Check the URL and credentials in the HUB_* settings (run `hub doctor`)."


class NotFound(PermanentError):
    default_hint = "Check that the identifier is right in the source system."


class Conflict(PermanentError):
    default_hint = "The record changed meanwhile; reload it and try again."


class InvalidInput(PermanentError):
    default_hint = "Correct the data in the source system, then replay the item."


_KIND: dict[type[HubError], str] = {
    HubError: "error",
    TransientError: "transient",
    MalformedResponse: "transient",
    PermanentError: "permanent",
    ConfigError: "config",
    NotFound: "not_found",
    Conflict: "conflict",
    InvalidInput: "invalid_input",
}
