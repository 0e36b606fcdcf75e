"""Chatwoot's inboxes are read again every hour (new WhatsApp numbers, renamed Evolution instances)."""

from django.db import migrations

NAME = "chatwoot_inboxes_refresh"


def schedule_create(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name=NAME,
        defaults={"func": "handoff.tasks.inboxes_refresh", "schedule_type": "I", "minutes": 60, "repeats": -1},
    )


def schedule_remove(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("handoff", "0012_chatwoot_inboxes"), ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more")]

    operations = [migrations.RunPython(schedule_create, schedule_remove)]
