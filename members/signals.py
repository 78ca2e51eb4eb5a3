"""Keeping cached affiliations honest: any write to what they are resolved from (addresses,
institutions, domains, memberships) makes them stale. Only cache upkeep lives here; the rule
itself is in members/affiliation.py."""

from allauth.account.models import EmailAddress
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .affiliation import forget_cached_affiliations
from .models import Institution, InstitutionDomain, Membership

AFFILIATION_SOURCES = (EmailAddress, Institution, InstitutionDomain, Membership)


def _forget(sender, **kwargs):
    forget_cached_affiliations()


for _model in AFFILIATION_SOURCES:
    receiver(post_save, sender=_model, dispatch_uid=f"affiliations-saved-{_model.__name__}")(
        _forget
    )
    receiver(post_delete, sender=_model, dispatch_uid=f"affiliations-deleted-{_model.__name__}")(
        _forget
    )
