"""Managers and Agents see the deliveries; Agents may send one again. Subscriptions hold secrets: superusers only."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def groups_update(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    outbound = Permission.objects.filter(content_type__app_label="outbound")
    for name, codenames in (("Managers", ["view_delivery"]), ("Agents", ["view_delivery", "redeliver_delivery"])):
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*outbound.filter(codename__in=codenames))


class Migration(migrations.Migration):
    dependencies = [("outbound", "0001_initial"), ("handoff", "0018_dispatcher")]

    operations = [migrations.RunPython(groups_update, migrations.RunPython.noop)]
