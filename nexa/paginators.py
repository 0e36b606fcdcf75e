"""Paginators that never count a whole big table: the admin's estimate, and the API's cursor pages."""

from django.core.paginator import Paginator
from django.db import connections
from django.utils.functional import cached_property
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination

EXACT_BELOW = 10_000


class EstimatedCountPaginator(Paginator):
    """On PostgreSQL an unfiltered list takes the planner's row estimate instead of COUNT(*).

    COUNT(*) scans every row (seconds at a million leads); pg_class.reltuples is kept fresh by
    autovacuum. Small tables and filtered lists still count exactly.
    """

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        query = getattr(queryset, "query", None)
        if query is not None and not query.where and not query.distinct:
            connection = connections[queryset.db]
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)",
                        [queryset.model._meta.db_table],
                    )
                    row = cursor.fetchone()
                if row and row[0] >= EXACT_BELOW:
                    return int(row[0])
        return super().count


class StrictCursorPagination(CursorPagination):
    """Cursor pages, which never count; a mangled cursor is bad input naming its parameter (400), not a missing page
    (DRF's 404)."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise serializers.ValidationError({"cursor": ["Cursor inválido."]}) from None
