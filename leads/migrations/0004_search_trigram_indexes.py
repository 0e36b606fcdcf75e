"""Trigram indexes for the admin's search on PostgreSQL: a substring search no longer reads every lead."""

import logging

from django.db import DatabaseError, migrations, transaction

logger = logging.getLogger(__name__)

SEARCHED = ("name", "email", "interest")


def trigram_indexes_create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic():
            # pg_trgm is a trusted extension (PostgreSQL 13+): the database's owner may create it.
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DatabaseError as err:
        logger.warning("pg_trgm is not available (%s): the admin search on leads will scan the table", err)
        return
    for field in SEARCHED:
        # The expression the admin's icontains filter compiles to, so the planner can use the index.
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS lead_{field}_trgm_idx ON leads_lead "
            f'USING gin ((UPPER("{field}"::text)) gin_trgm_ops)'
        )


def trigram_indexes_drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for field in SEARCHED:
        schema_editor.execute(f"DROP INDEX IF EXISTS lead_{field}_trgm_idx")


class Migration(migrations.Migration):
    dependencies = [("leads", "0003_dashboard_covering_index")]

    operations = [migrations.RunPython(trigram_indexes_create, trigram_indexes_drop)]
