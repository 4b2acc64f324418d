"""Meta's channels: WhatsApp Cloud API, Messenger and Instagram messaging.

All three share the webhook mechanics: a GET handshake (:func:`verify_challenge`), and
POSTs signed with ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body, keyed
with the app secret>``. One POST may batch several entries, changes and messaging items;
every one becomes an event, in document order.

Choices worth knowing:

- Reactions have no place in :mod:`hub.model` yet, so they arrive as a message whose text
  is ``[reaction 👍 to <provider message id>]`` (``[reaction removed from <id>]`` when
  withdrawn). WhatsApp gives the reaction its own ``wamid``; Messenger does not, so we key
  it ``reaction:<target mid>:<sender>:<timestamp>`` to keep redelivery idempotent.
- WhatsApp media arrive as :class:`~hub.model.Attachment` with ``provider_media_id`` and
  ``url=None``: the web layer points ``url`` at its authenticated proxy route, which calls
  :meth:`WhatsAppAdapter.fetch_media`. Messenger/Instagram media carry a (short-lived)
  public CDN URL, kept as ``url``.
- A location becomes readable text: ``📍 name, address (lat, lon)``.
- Messenger/Instagram give no profile name in webhooks, so ``contact_name`` is None there.
- Instagram's unsend (``is_deleted``), referrals, opt-ins and handovers give no event.
"""

from adapters.meta.graph import GRAPH_BASE, GRAPH_VERSION, appsecret_proof
from adapters.meta.messaging import MessengerAdapter, parse_messaging
from adapters.meta.webhook import SIGNATURE_HEADER, verify_challenge, verify_signature
from adapters.meta.whatsapp import UntrustedMediaURL, WhatsAppAdapter, parse_whatsapp

__all__ = [
    "GRAPH_BASE",
    "GRAPH_VERSION",
    "SIGNATURE_HEADER",
    "MessengerAdapter",
    "UntrustedMediaURL",
    "WhatsAppAdapter",
    "appsecret_proof",
    "parse_messaging",
    "parse_whatsapp",
    "verify_challenge",
    "verify_signature",
]
