"""CSV exports (leads, and the dashboard's tables), streamed so a large selection never sits in memory."""

import csv
from decimal import Decimal

from django.db.models import OuterRef, QuerySet, Subquery
from django.http import StreamingHttpResponse
from django.utils import timezone

from handoff.models import Handoff
from leads.models import Lead

COLUMNS = (
    "id",
    "external_id",
    "name",
    "phone",
    "email",
    "interest",
    "qualification_score",
    "status",
    "chatwoot_contact_id",
    "chatwoot_conversation_id",
    "created_at",
    "updated_at",
    "closed_at",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_safe(value) -> str:
    """Text a spreadsheet will not run as a formula (names and interests come from WhatsApp users)."""
    if value is None:
        return ""
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return "'" + text if text.startswith(_FORMULA_START) and not _is_phone(text) else text


def _is_phone(text: str) -> bool:
    return text.startswith("+") and text[1:].isdigit()


OUTCOME_COLUMNS = ("deal_value", "loss_reason")  # the lead's latest handoff's, as the agent recorded them


def leads_csv_rows(leads: QuerySet[Lead]):
    yield (*COLUMNS, *OUTCOME_COLUMNS)
    latest = Handoff.objects.filter(lead=OuterRef("pk")).order_by("-created_at")
    leads = leads.annotate(**{name: Subquery(latest.values(name)[:1]) for name in OUTCOME_COLUMNS})
    cents = Decimal("0.01")  # SQLite hands a subquery's decimal back without its scale
    for lead in leads.order_by("-created_at", "-id").iterator(chunk_size=2000):
        value = lead.deal_value.quantize(cents) if lead.deal_value is not None else None
        yield (*(getattr(lead, column) for column in COLUMNS), value, lead.loss_reason)


def _with_bom(lines):
    yield "\ufeff"
    yield from lines


def csv_response(rows, filename: str) -> StreamingHttpResponse:
    """Rows as a download, streamed so a large export never sits in memory.

    Excel in pt-BR reads ";"-separated files, and the BOM tells it the text is UTF-8 ("João", not "JoÃ£o").
    """
    writer = csv.writer(_Echo(), delimiter=";")
    lines = (writer.writerow([csv_safe(value) for value in row]) for row in rows)
    response = StreamingHttpResponse(_with_bom(lines), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def leads_csv_response(leads: QuerySet[Lead]) -> StreamingHttpResponse:
    return csv_response(leads_csv_rows(leads), f"leads-{timezone.localtime().strftime('%Y%m%d-%H%M')}.csv")
