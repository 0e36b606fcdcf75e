"""An admin paginator that never counts a whole big table."""

from django.core.paginator import Paginator
from django.db import connections
from django.utils.functional import cached_property

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
