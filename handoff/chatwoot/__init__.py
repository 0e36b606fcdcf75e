"""A thin, typed Chatwoot client that never touches the ORM; `from handoff.chatwoot import X` is the way in."""

from handoff.chatwoot.client import USER_AGENT, ChatwootClient, ChatwootSettings
from handoff.chatwoot.errors import (
    ChatwootAuthError,
    ChatwootConfigurationError,
    ChatwootConnectionError,
    ChatwootError,
    ChatwootNotFound,
    ChatwootPermanentError,
    ChatwootRateLimited,
    ChatwootTimeout,
    ChatwootTransientError,
)
from handoff.chatwoot.guard import (
    PRIVATE_NETWORK_HINT,
    PublicNetworkAdapter,
    address_is_public,
    host_public_check,
    private_network_allowed,
)
from handoff.chatwoot.responses import RECORD_LIMIT
from handoff.chatwoot.types import (
    Agent,
    CallRecord,
    Contact,
    ContactInbox,
    Conversation,
    Message,
    Profile,
    Team,
    agent_from,
    contact_from,
    conversation_from,
    message_from,
)

__all__ = [
    "PRIVATE_NETWORK_HINT",
    "RECORD_LIMIT",
    "USER_AGENT",
    "Agent",
    "CallRecord",
    "ChatwootAuthError",
    "ChatwootClient",
    "ChatwootConfigurationError",
    "ChatwootConnectionError",
    "ChatwootError",
    "ChatwootNotFound",
    "ChatwootPermanentError",
    "ChatwootRateLimited",
    "ChatwootSettings",
    "ChatwootTimeout",
    "ChatwootTransientError",
    "Contact",
    "ContactInbox",
    "Conversation",
    "Message",
    "Profile",
    "PublicNetworkAdapter",
    "Team",
    "address_is_public",
    "agent_from",
    "contact_from",
    "conversation_from",
    "host_public_check",
    "message_from",
    "private_network_allowed",
]
