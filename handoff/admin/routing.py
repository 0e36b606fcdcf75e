"""Routing rules, edited in place: order and on/off straight from the list."""

from django.contrib import admin

from handoff.models import RoutingRule


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "position",
        "enabled",
        "strategy",
        "min_score",
        "max_score",
        "area_codes",
        "team_id",
        "inbox_id",
    )
    list_editable = ("position", "enabled")
    list_filter = ("enabled", "strategy")
