"""The "Event staff" group: exactly what MVA staff need to run events, nothing more.

They manage events and their programmes, register guests, change, check in, cancel and promote
registrations, export them and message attendees, and read the e-mails sent about them. They
cannot delete events or registrations (registrations are cancelled, which keeps the seat
counters and the waiting list right), and cannot manage users, groups or permissions.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP_NAME = "Event staff"

PERMISSIONS = {
    "events": {
        "event": ["view", "add", "change"],
        "programmeitem": ["view", "add", "change", "delete"],
        "registration": ["view", "add", "change"],
    },
    "members": {
        # To pick a network for an event and to read a registration's institution.
        "institution": ["view"],
        "network": ["view"],
    },
    "outbox": {
        "outgoingemail": ["view"],
    },
}


def create_event_staff_group(apps, schema_editor):
    # Permissions are normally created after all migrations ran (post_migrate); create them
    # now so the group can be given them in this same migration run.
    for label in PERMISSIONS:
        app_config = apps.get_app_config(label)
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _created = Group.objects.get_or_create(name=GROUP_NAME)
    wanted = [
        (app_label, f"{action}_{model}")
        for app_label, models in PERMISSIONS.items()
        for model, actions in models.items()
        for action in actions
    ]
    permissions = []
    for app_label, codename in wanted:
        permissions.append(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    group.permissions.set(permissions)


def remove_event_staff_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("events", "0002_initial"),
        ("members", "0001_initial"),
        ("outbox", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(create_event_staff_group, remove_event_staff_group),
    ]
