"""Addresses stored before sign-up normalised them (members.adapter) get their canonical
spelling (members.affiliation.normalise_address), so that "user@xn--bcher-kva.example" stored
then and "user@bücher.example" typed now are one address to allauth's uniqueness check. An
address whose canonical spelling another row already holds is left as it is (two accounts
for one mailbox: staff must merge them by hand), and so is one with no usable domain."""

import logging

from django.db import migrations
from django.db.models import Q
from django.db.models.functions import Lower

logger = logging.getLogger(__name__)


def _canonical(email: str) -> str | None:
    from members.affiliation import InvalidDomain, normalise_address

    try:
        canonical = normalise_address(email)
    except InvalidDomain:
        return None
    return canonical if canonical != email else None


def give_every_address_its_canonical_spelling(apps, schema_editor):
    EmailAddress = apps.get_model("account", "EmailAddress")
    User = apps.get_model("members", "User")
    for model in (EmailAddress, User):
        # Only punycode domains and those not in plain ASCII lower case can change.
        rows = model.objects.filter(
            Q(email__icontains="@xn--")
            | Q(email__icontains=".xn--")
            | ~Q(email__regex=r"^[^@]*@[a-z0-9.-]*$")
        )
        for row in rows.iterator():
            canonical = _canonical(row.email)
            if canonical is None:
                continue
            taken = (
                model.objects.annotate(email_lower=Lower("email"))
                .filter(email_lower=canonical.lower())
                .exclude(pk=row.pk)
                .exists()
            )
            if taken:
                logger.warning(
                    "%s %s: %s is taken, left as it is", model.__name__, row.pk, canonical
                )
                continue
            model.objects.filter(pk=row.pk).update(email=canonical)


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0004_membership_ordering_by_id"),
        ("account", "0009_emailaddress_unique_primary_email"),
    ]

    operations = [
        migrations.RunPython(give_every_address_its_canonical_spelling, migrations.RunPython.noop),
    ]
