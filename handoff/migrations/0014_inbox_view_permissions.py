"""Managers and Agents see the inboxes (which WhatsApp number answers) and the integration users."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

VIEW = ["view_chatwootinbox", "view_chatwootintegrationuser"]


def groups_update(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    views = Permission.objects.filter(content_type__app_label="handoff", codename__in=VIEW)
    for name in ("Managers", "Agents"):
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*views)


class Migration(migrations.Migration):
    dependencies = [("handoff", "0013_inboxes_refresh_schedule")]

    operations = [migrations.RunPython(groups_update, migrations.RunPython.noop)]
