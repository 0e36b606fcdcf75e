"""The periodic jobs of the Chatwoot sync: speed-to-lead escalation and reconciliation."""

from django.db import migrations

SCHEDULES = {
    "handoffs_sla_check": ("handoff.tasks.handoffs_sla_check", 1),
    "handoffs_reconcile": ("handoff.tasks.handoffs_reconcile", 5),
}


def schedules_create(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    for name, (func, minutes) in SCHEDULES.items():
        Schedule.objects.update_or_create(
            name=name, defaults={"func": func, "schedule_type": "I", "minutes": minutes, "repeats": -1}
        )


def schedules_remove(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name__in=SCHEDULES).delete()


class Migration(migrations.Migration):
    dependencies = [("handoff", "0003_chatwoot_sync"), ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more")]

    operations = [migrations.RunPython(schedules_create, schedules_remove)]
