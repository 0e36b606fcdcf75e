"""Signal receivers: a qualified lead gets a handoff in the same transaction."""

from django.dispatch import receiver

from handoff import services
from leads.signals import lead_qualified


@receiver(lead_qualified, dispatch_uid="handoff_on_lead_qualified")
def handoff_on_lead_qualified(sender, *, lead, trigger, user=None, **kwargs):
    services.handoff_create(lead=lead, trigger=trigger, user=user)
