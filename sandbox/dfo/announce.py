"""Send one DFØ change event to the hub's intake, signed like the real feed's relay: the
sandbox uses the hub's own sender (:mod:`hub.hr_events`), so both sign the same way."""

from hub.hr_events import announce, event_body

__all__ = ["event_body", "announce"]
