"""The periodic job that enqueues again webhook deliveries whose worker died (django-q runs a task once)."""

from django.db import migrations

NAME = "webhooks_requeue_stale"


def schedule_create(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name=NAME,
        defaults={"func": "handoff.tasks.webhooks_requeue_stale", "schedule_type": "I", "minutes": 5, "repeats": -1},
    )


def schedule_remove(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("handoff", "0005_escalation_note_pending"), ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more")]

    operations = [migrations.RunPython(schedule_create, schedule_remove)]
