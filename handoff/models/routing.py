"""Routing rules and round-robin state."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class RoutingRule(models.Model):
    """Which agents get a lead: the first enabled rule (by position) whose conditions all match."""

    class Strategy(models.TextChoices):
        CHATWOOT = "chatwoot", _("Leave it to Chatwoot (auto-assignment)")
        ROUND_ROBIN = "round_robin", _("Round robin")
        LEAST_LOADED = "least_loaded", _("Least busy")
        FIXED = "fixed", _("Fixed agent (the first in the list)")

    name = models.CharField(_("name"), max_length=100)
    position = models.PositiveIntegerField(_("position"), default=0)
    enabled = models.BooleanField(_("enabled"), default=True)
    min_score = models.PositiveSmallIntegerField(_("minimum score"), null=True, blank=True)
    max_score = models.PositiveSmallIntegerField(_("maximum score"), null=True, blank=True)
    interest_keywords = models.CharField(
        _("interest keywords"), max_length=500, blank=True, help_text=_("Comma-separated; any one of them matches.")
    )
    area_codes = models.CharField(
        _("area codes"), max_length=200, blank=True, help_text=_("Comma-separated, e.g. 11, 21")
    )
    team_id = models.PositiveIntegerField(_("Chatwoot team"), null=True, blank=True)
    inbox_id = models.PositiveIntegerField(
        _("Chatwoot inbox"),
        null=True,
        blank=True,
        help_text=_("For leads whose inbox is not known yet (Atlas named none and they never wrote to one)."),
    )
    agent_ids = models.CharField(
        _("Chatwoot agents"),
        max_length=500,
        blank=True,
        help_text=_("Comma-separated ids. Empty: the team's members, or the inbox's."),
    )
    strategy = models.CharField(_("strategy"), max_length=20, choices=Strategy.choices, default=Strategy.ROUND_ROBIN)
    online_only = models.BooleanField(
        _("online agents only"), default=False, help_text=_("If nobody is online, every candidate is used.")
    )
    sla_minutes = models.PositiveIntegerField(
        _("first-reply target (min)"), null=True, blank=True, help_text=_("Empty: HANDOFF_SLA_MINUTES.")
    )

    class Meta:
        ordering = ("position", "id")
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")

    def __str__(self) -> str:
        return self.name


class RoundRobinCursor(models.Model):
    """Whose turn it is in a pool; its row lock keeps two workers from taking the same turn."""

    pool = models.CharField(max_length=100, unique=True)
    last_agent_id = models.BigIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.pool}: {self.last_agent_id}"
