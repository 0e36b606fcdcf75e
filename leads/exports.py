"""CSV export of leads, streamed so a large selection never sits in memory."""

import csv

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone

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


def leads_csv_rows(leads: QuerySet[Lead]):
    yield COLUMNS
    for lead in leads.order_by("-created_at", "-id").iterator(chunk_size=2000):
        yield tuple(csv_safe(getattr(lead, column)) for column in COLUMNS)


def _with_bom(rows):
    yield "\ufeff"
    yield from rows


def leads_csv_response(leads: QuerySet[Lead]) -> StreamingHttpResponse:
    # Excel in pt-BR reads ";"-separated files, and the BOM tells it the text is UTF-8 ("João", not "JoÃ£o").
    writer = csv.writer(_Echo(), delimiter=";")
    rows = (writer.writerow(row) for row in leads_csv_rows(leads))
    response = StreamingHttpResponse(_with_bom(rows), content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="leads-{stamp}.csv"'
    return response
