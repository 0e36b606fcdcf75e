"""Signal receivers: a qualified lead is an event for subscribers, in the same transaction."""

from django.dispatch import receiver

from leads.signals import lead_qualified
from outbound import services


@receiver(lead_qualified, dispatch_uid="outbound_on_lead_qualified")
def event_on_lead_qualified(sender, *, lead, trigger, **kwargs):
    services.lead_qualified_emit(lead=lead, trigger=trigger)
