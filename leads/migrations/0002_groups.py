"""The "Managers" and "Agents" groups, with view permissions on leads."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

LEAD_MODELS = ("lead", "botconversation", "message")


def groups_create(apps, schema_editor):
    # Permissions are normally created after all migrations; create them now so the groups can hold them.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    view = Permission.objects.filter(
        content_type__app_label="leads", codename__in=[f"view_{model}" for model in LEAD_MODELS]
    )
    for name in ("Managers", "Agents"):
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*view)


def groups_remove(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=("Managers", "Agents")).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(groups_create, groups_remove)]
