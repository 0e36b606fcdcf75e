"""Routing rules and round-robin state."""

from django.db import models


class RoutingRule(models.Model):
    """Which agents get a lead: the first enabled rule (by position) whose conditions all match."""

    class Strategy(models.TextChoices):
        CHATWOOT = "chatwoot", "Deixar com o Chatwoot (auto-atribuição)"
        ROUND_ROBIN = "round_robin", "Rodízio"
        LEAST_LOADED = "least_loaded", "Menos ocupado"
        FIXED = "fixed", "Agente fixo (o primeiro da lista)"

    name = models.CharField("nome", max_length=100)
    position = models.PositiveIntegerField("ordem", default=0)
    enabled = models.BooleanField("ativa", default=True)
    min_score = models.PositiveSmallIntegerField("nota mínima", null=True, blank=True)
    max_score = models.PositiveSmallIntegerField("nota máxima", null=True, blank=True)
    interest_keywords = models.CharField(
        "palavras no interesse", max_length=500, blank=True, help_text="Separadas por vírgula; basta uma aparecer."
    )
    area_codes = models.CharField("DDDs", max_length=200, blank=True, help_text="Separados por vírgula, ex.: 11, 21")
    team_id = models.PositiveIntegerField("time no Chatwoot", null=True, blank=True)
    agent_ids = models.CharField(
        "agentes no Chatwoot",
        max_length=500,
        blank=True,
        help_text="Ids separados por vírgula. Vazio: os membros do time, ou da caixa de entrada.",
    )
    strategy = models.CharField("estratégia", max_length=20, choices=Strategy.choices, default=Strategy.ROUND_ROBIN)
    online_only = models.BooleanField(
        "só agentes online", default=False, help_text="Se ninguém estiver online, usa todos os candidatos."
    )
    sla_minutes = models.PositiveIntegerField(
        "meta de primeira resposta (min)", null=True, blank=True, help_text="Vazio: HANDOFF_SLA_MINUTES."
    )

    class Meta:
        ordering = ("position", "id")
        verbose_name = "regra de roteamento"
        verbose_name_plural = "regras de roteamento"

    def __str__(self) -> str:
        return self.name


class RoundRobinCursor(models.Model):
    """Whose turn it is in a pool; its row lock keeps two workers from taking the same turn."""

    pool = models.CharField(max_length=100, unique=True)
    last_agent_id = models.BigIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.pool}: {self.last_agent_id}"
