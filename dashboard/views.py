"""The managers' dashboard and its CSV exports, inside the admin's look."""

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import permission_required
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from dashboard import presenters
from dashboard.forms import PeriodForm
from dashboard.selectors import Period, agent_performance, funnel_collect, metrics_collect
from leads.exports import csv_response


def _staff_view(view):
    # Staff with permission to view leads: the managers' and agents' groups both have it.
    return staff_member_required(permission_required("leads.view_lead", raise_exception=True)(view))


@_staff_view
def dashboard(request):
    form = PeriodForm(request.GET or None, initial={"range": "30d"})
    period = form.period()
    metrics = metrics_collect(period, what_if=form.threshold_to_estimate())
    context = {
        **admin.site.each_context(request),
        "is_nav_sidebar_enabled": False,  # the charts want the page's whole width
        "title": _("Leads and handoffs dashboard"),
        "form": form,
        "period": period,
        "metrics": metrics,
        "charts": presenters.charts_for(metrics),
        "cards": presenters.cards(metrics),
        "agents": presenters.agent_rows(metrics["agents"]),
        "funnel": presenters.funnel_rows(metrics["funnel"]),
        "conversion": presenters.conversion_rows(metrics["conversion"]),
        "conversion_cuts": presenters.conversion_cut_tables(metrics["conversion"]),
        "calibration": presenters.calibration_rows(metrics["conversion"]),
        "calibration_share": presenters.percent(metrics["conversion"]["calibration"]["share"]),
        "what_if_sampled": ", ".join(map(str, metrics["conversion"]["what_if"]["scores_from_sample"])),
        "what_if": metrics["conversion"]["what_if"],
        "what_if_revenue": presenters.money(metrics["conversion"]["what_if"]["expected_revenue"]),
        "health": presenters.health(metrics["health"]),
        "time_zone": settings.TIME_ZONE,
        "query": request.GET.urlencode(),
        "failed_url": reverse("admin:handoff_handoff_changelist") + "?state__exact=failed",
    }
    return TemplateResponse(request, "dashboard/index.html", context)


def _period(request) -> Period:
    return PeriodForm(request.GET or None).period()


@_staff_view
def agents_csv(request):
    period = _period(request)
    rows = presenters.agent_csv_rows(agent_performance(period))
    return csv_response(rows, f"agentes-{period.first_day}-{period.last_day}.csv")


@_staff_view
def funnel_csv(request):
    period = _period(request)
    rows = presenters.funnel_csv_rows(funnel_collect(period))
    return csv_response(rows, f"funil-{period.first_day}-{period.last_day}.csv")


@_staff_view
def conversion_csv(request):
    period = _period(request)
    rows = presenters.conversion_csv_rows(metrics_collect(period)["conversion"])
    return csv_response(rows, f"conversao-{period.first_day}-{period.last_day}.csv")
