"""The handoff's steps in Chatwoot; each one skips what its checkpoint says is done, so none is ever repeated.

The runner calls them in order: inbox, contact, conversation, note, labels, assignment, then finish. Chatwoot facts
cited by section are in ../shared/chatwoot/API-NOTES.md.
"""

from handoff.services.steps.assignment import assignment
from handoff.services.steps.common import HandoffImpossible
from handoff.services.steps.contact import contact
from handoff.services.steps.conversation import conversation
from handoff.services.steps.finish import finish
from handoff.services.steps.inbox import inbox
from handoff.services.steps.note import labels, note

__all__ = ["HandoffImpossible", "assignment", "contact", "conversation", "finish", "inbox", "labels", "note"]
