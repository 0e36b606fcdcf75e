"""Repairs of Chatwoot contacts Nexa made before it knew better."""

from handoff.chatwoot import Contact
from handoff.models import Handoff
from handoff.services.chatwoot import chatwoot_for
from handoff.services.steps.contact import LEGACY_IDENTIFIER_PREFIX

FILTER_PAGE = 15  # B.4: a filter answers one page; as many conditions as a page holds finds them all


def contacts_legacy_identifiers_clear(*, dry_run: bool = False) -> list[Contact]:
    """Clear "nexa-lead-<id>" from the contacts of every lead Nexa ever handed off; returns those it found.

    Nexa used to write it into `identifier`, and Evolution sends an agent's reply to the identifier's digits
    (CHANNELS §2.1): those leads never received a human's answer. A handoff also clears it when it finds one.
    """
    client = chatwoot_for(step="identifiers")
    lead_ids = list(Handoff.objects.values_list("lead_id", flat=True).distinct().order_by("lead_id"))
    found: list[Contact] = []
    for start in range(0, len(lead_ids), FILTER_PAGE):
        batch = [
            ("identifier", f"{LEGACY_IDENTIFIER_PREFIX}{lead_id}") for lead_id in lead_ids[start : start + FILTER_PAGE]
        ]
        for contact in client.contacts_filter(batch):
            if contact.identifier.startswith(LEGACY_IDENTIFIER_PREFIX):
                found.append(contact)
                if not dry_run:
                    client.contact_update(contact.id, identifier=None)
    return found
