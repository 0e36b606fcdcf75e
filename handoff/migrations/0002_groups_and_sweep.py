"""Agents get the handoff actions, Managers see handoffs; and the periodic sweep that never loses a handoff."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

VIEW = ["view_handoff", "view_handoffevent", "view_chatwootcall", "view_routingrule"]
ACTIONS = ["trigger_handoff", "retry_handoff", "reassign_handoff", "cancel_handoff"]


def groups_update(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    handoff = Permission.objects.filter(content_type__app_label="handoff")
    managers, _ = Group.objects.get_or_create(name="Managers")
    agents, _ = Group.objects.get_or_create(name="Agents")
    managers.permissions.add(*handoff.filter(codename__in=VIEW))
    agents.permissions.add(*handoff.filter(codename__in=VIEW + ACTIONS))


def sweep_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name="handoffs_sweep",
        defaults={"func": "handoff.tasks.handoffs_sweep", "schedule_type": "I", "minutes": 1, "repeats": -1},
    )


def sweep_schedule_remove(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name="handoffs_sweep").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("handoff", "0001_initial"),
        ("leads", "0002_groups"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        migrations.RunPython(groups_update, migrations.RunPython.noop),
        migrations.RunPython(sweep_schedule, sweep_schedule_remove),
    ]
