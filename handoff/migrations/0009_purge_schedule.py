"""The hourly retention purge of old Chatwoot call audit rows, settled webhook deliveries and finished tasks."""

from django.db import migrations

NAME = "retention_purge"


def schedule_create(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name=NAME,
        defaults={"func": "handoff.tasks.retention_purge", "schedule_type": "H", "repeats": -1},
    )


def schedule_remove(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("handoff", "0008_handoff_lead_created_at"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(schedule_create, schedule_remove)]
