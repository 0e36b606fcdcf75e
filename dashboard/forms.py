"""The dashboard's period filter: today, 7 or 30 days, or custom dates, in TIME_ZONE; optionally one team."""

from datetime import date, timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dashboard.selectors import Period, teams_known

MAX_DAYS = 366
RANGES = (("today", _("Today")), ("7d", _("Last 7 days")), ("30d", _("Last 30 days")), ("custom", _("Custom")))
RANGE_DAYS = {"today": 1, "7d": 7, "30d": 30}
THRESHOLD_CHOICES = [("", "—"), *((score, str(score)) for score in range(1, 11))]


def period_validate(first_day: date, last_day: date) -> None:
    """The errors a custom period can have, worded for the form and the API alike."""
    if first_day > last_day:
        raise forms.ValidationError(_("The start date must be on or before the end date."), code="order")
    if (last_day - first_day).days >= MAX_DAYS:
        raise forms.ValidationError(_("Choose at most {days} days.").format(days=MAX_DAYS), code="too_long")


def period_recent(days: int, team_id: int | None = None) -> Period:
    today = timezone.localdate()
    return Period(first_day=today - timedelta(days=days - 1), last_day=today, team_id=team_id)


class PeriodForm(forms.Form):
    range = forms.ChoiceField(label=_("Period"), choices=RANGES, required=False, initial="30d")
    start = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    team = forms.TypedChoiceField(label=_("Team"), required=False, coerce=int, empty_value=None)
    what_if = forms.TypedChoiceField(
        label=_("Estimate a threshold of"),
        required=False,
        coerce=int,
        empty_value=None,
        choices=THRESHOLD_CHOICES,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].choices = [("", _("All teams")), *teams_known()]

    def clean(self):
        data = super().clean()
        if data.get("range") == "custom":
            if not data.get("start") or not data.get("end"):
                raise forms.ValidationError(_("Enter both dates of the custom period."), code="required")
            period_validate(data["start"], data["end"])
        return data

    def threshold_to_estimate(self) -> int | None:
        return self.cleaned_data.get("what_if") if self.is_valid() else None

    def period(self) -> Period:
        """The chosen period; an empty or invalid form means the last 30 days (the errors are shown beside it)."""
        data = self.cleaned_data if self.is_valid() else {}
        team_id = data.get("team")
        choice = data.get("range") or "30d"
        if choice == "custom":
            return Period(first_day=data["start"], last_day=data["end"], team_id=team_id)
        return period_recent(RANGE_DAYS[choice], team_id)
