"""Nettskjema (UiO's form service) forms connector, API v3.

``NettskjemaForms(NettskjemaConfig(base_url=..., token_url=..., client_id=..., client_secret=...))``
implements :class:`hub.ports.forms.FormsPort`. Auth: :mod:`connectors.nettskjema.auth`
(OAuth 2 client credentials, proactive refresh, one retry on 401); payload shapes and
decoding: :mod:`connectors.nettskjema.models` (dates, times and numbers:
:mod:`connectors.nettskjema.values`); endpoints and errors:
:mod:`connectors.nettskjema.client`.
"""

from connectors.nettskjema.auth import ClientCredentialsAuth
from connectors.nettskjema.client import SYSTEM, NettskjemaForms
from connectors.nettskjema.config import NettskjemaConfig

# The registry's convention (connectors/registry.py): what implements the port, and its settings.
CONFIG = NettskjemaConfig
CLIENT = NettskjemaForms

__all__ = ["CONFIG", "CLIENT", "NettskjemaForms", "NettskjemaConfig", "ClientCredentialsAuth", "SYSTEM"]
