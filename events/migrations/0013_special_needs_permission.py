"""Who sees special-category data: a permission of its own, which the "Event staff" group gets
(check-in at the door shows dietary and accessibility needs). The group also gets to read an
institution's domains and membership periods, which its registrations are priced by."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP_NAME = "Event staff"

# (app label, codename) given to the group by this migration, beside 0003's.
ADDED_PERMISSIONS = [
    ("events", "view_special_needs"),
    ("members", "view_institutiondomain"),
    ("members", "view_membership"),
]


def give_the_group_the_added_permissions(apps, schema_editor):
    for label in {app_label for app_label, _codename in ADDED_PERMISSIONS}:
        app_config = apps.get_app_config(label)
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group = Group.objects.filter(name=GROUP_NAME).first()
    if group is None:  # removed by hand: nothing to extend
        return
    for app_label, codename in ADDED_PERMISSIONS:
        group.permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )


def take_them_back(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group = Group.objects.filter(name=GROUP_NAME).first()
    if group is None:
        return
    for app_label, codename in ADDED_PERMISSIONS:
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label=app_label, codename=codename)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0012_registration_language_choices"),
        ("members", "0003_constraint_messages"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="registration",
            options={
                "ordering": ["event_id", "created_at", "id"],
                "permissions": [
                    ("view_special_needs", "Can see dietary and accessibility needs")
                ],
                "verbose_name": "registration",
                "verbose_name_plural": "registrations",
            },
        ),
        migrations.RunPython(give_the_group_the_added_permissions, take_them_back),
    ]
