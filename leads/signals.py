"""Signals other apps listen to; sent inside the transaction that caused them."""

from django.dispatch import Signal

# A lead just became qualified (its score reached the threshold, or a closed lead was re-qualified).
# Arguments: lead, trigger ("score", "api" or "admin"), user (the admin user, or None).
lead_qualified = Signal()

# A lead scored just below the threshold was drawn into the calibration sample (leads.calibration): it is handed off
# all the same, once. Arguments: lead.
lead_sampled = Signal()
