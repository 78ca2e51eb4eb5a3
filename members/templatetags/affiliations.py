"""Template tags about who a person verifiably is (members/affiliation.py answers)."""

from django import template

from members.affiliation import verified_affiliations

register = template.Library()


@register.simple_tag
def has_verified_affiliation(user) -> bool:
    """Whether one of the person's verified addresses identifies an institution (a cached
    answer: no query when nothing it depends on changed)."""
    return bool(verified_affiliations(user=user))


@register.filter
def any_unverified(addresses) -> bool:
    """Whether any of these allauth addresses is still to be confirmed."""
    return any(not address.verified for address in addresses)
