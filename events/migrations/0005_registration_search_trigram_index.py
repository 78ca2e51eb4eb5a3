"""A trigram index for staff searching registrations, on PostgreSQL only.

Searching name, e-mail address and institution for a word is a `LIKE '%WORD%'` that no
B-tree index serves, so without this every search reads the whole table. The index is on
the expression `events.models.registration_search_text()` returns, written out here as it
stood when this migration was made (migrations must not change with the code); a test
checks that the admin's search query is still planned on it.

pg_trgm ships with PostgreSQL and is a trusted extension (since PostgreSQL 13), so the
database owner may create it. SQLite, the embedded development set-up, gets no index.
"""

from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import migrations, models
from django.db.models.functions import Concat, Upper

INDEX_NAME = "registration_search_trgm"


def _index() -> GinIndex:
    text = Upper(
        Concat(
            "first_name",
            models.Value(" "),
            "last_name",
            models.Value(" "),
            "email",
            models.Value(" "),
            "institution_name",
            output_field=models.CharField(),
        )
    )
    return GinIndex(OpClass(text, name="gin_trgm_ops"), name=INDEX_NAME)


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.add_index(apps.get_model("events", "Registration"), _index())


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.remove_index(apps.get_model("events", "Registration"), _index())


class Migration(migrations.Migration):
    dependencies = [("events", "0004_ean_number_validator")]

    operations = [migrations.RunPython(create_index, drop_index, elidable=False)]
