"""Signal receivers: a qualified lead, or one drawn into the calibration sample, gets a handoff in the same
transaction."""

from django.dispatch import receiver

from handoff import services
from leads.signals import lead_qualified, lead_sampled


@receiver(lead_qualified, dispatch_uid="handoff_on_lead_qualified")
def handoff_on_lead_qualified(sender, *, lead, trigger, user=None, **kwargs):
    services.handoff_create(lead=lead, trigger=trigger, user=user)


@receiver(lead_sampled, dispatch_uid="handoff_on_lead_sampled")
def handoff_on_lead_sampled(sender, *, lead, **kwargs):
    services.handoff_sample(lead=lead)
