"""Who does a person verifiably belong to, and is an institution a member on a date?

The answer is built only from e-mail addresses: for each address, the institution whose
`InstitutionDomain` matches its domain exactly, or as a parent domain that allows sub-domains;
the longest (most specific) match wins. Only addresses the person has verified count.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from allauth.account.models import EmailAddress
from django.db.models import Prefetch

from .models import Institution, InstitutionDomain, Membership


@dataclass(frozen=True)
class Affiliation:
    """One address's tie to an institution."""

    email: str
    domain: str  # the matching InstitutionDomain.domain, normalised
    institution: Institution  # memberships prefetched (see `is_member_on`)
    audience: str  # InstitutionDomain.Audience value: "staff" or "students"

    @property
    def is_staff(self) -> bool:
        return self.audience == InstitutionDomain.Audience.STAFF

    def is_member_on(self, on: date) -> bool:
        return is_member_on(institution=self.institution, on=on)


class InvalidDomain(ValueError):
    pass


def normalise_domain(value: str) -> str:
    """A domain in its stored form: lower case, IDNA (punycode), no leading "@" or dot,
    no trailing dot. Raises InvalidDomain for anything that is not a host name."""
    domain = (value or "").strip().lstrip("@").strip(".").lower()
    if not domain or any(c.isspace() for c in domain) or "@" in domain or ".." in domain:
        raise InvalidDomain(value)
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError as error:
        raise InvalidDomain(value) from error
    labels = domain.split(".")
    if len(labels) < 2 or any(
        not label or len(label) > 63 or label.startswith("-") or label.endswith("-")
        for label in labels
    ):
        raise InvalidDomain(value)
    if not all(c.isalnum() or c == "-" for label in labels for c in label):
        raise InvalidDomain(value)
    return domain


def domain_of_address(email: str) -> str | None:
    """The normalised domain of an e-mail address, or None when it is not a usable address.

    Only the part after the *last* "@" is the domain; odd local parts (quoted, with "@",
    with plus signs) never change which domain is judged.
    """
    if not email or "@" not in email:
        return None
    local, _, domain = email.strip().rpartition("@")
    if not local:
        return None
    try:
        return normalise_domain(domain)
    except InvalidDomain:
        return None


def _candidate_domains(domain: str) -> list[str]:
    """The domain and each parent domain, longest first: a.b.lu.se, b.lu.se, lu.se, se."""
    labels = domain.split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]


def _memberships_prefetch() -> Prefetch:
    return Prefetch(
        "institution__memberships",
        queryset=Membership.objects.order_by("starts_on"),
    )


def affiliations_for_addresses(*, emails: Iterable[str]) -> dict[str, Affiliation]:
    """The affiliation of each address that has one, keyed by the address as given.

    Runs a fixed number of queries (domains, institutions, memberships) however many
    addresses, institutions and domains there are.
    """
    wanted: dict[str, list[str]] = {}
    for email in emails:
        domain = domain_of_address(email)
        if domain is not None:
            wanted[email] = _candidate_domains(domain)
    if not wanted:
        return {}
    every_candidate = {candidate for candidates in wanted.values() for candidate in candidates}
    rows = {
        row.domain: row
        for row in InstitutionDomain.objects.filter(domain__in=every_candidate)
        .select_related("institution")
        .prefetch_related(_memberships_prefetch())
    }
    result: dict[str, Affiliation] = {}
    for email, candidates in wanted.items():
        for position, candidate in enumerate(candidates):
            row = rows.get(candidate)
            if row is None:
                continue
            is_exact = position == 0
            if is_exact or row.include_subdomains:
                result[email] = Affiliation(
                    email=email,
                    domain=row.domain,
                    institution=row.institution,
                    audience=row.audience,
                )
                break
            # A longer domain that does not cover sub-domains stops the search: "lu.se"
            # listed without sub-domains must not let "x.lu.se" fall through to a shorter
            # parent with a different meaning.
            break
    return result


def affiliation_for_address(*, email: str) -> Affiliation | None:
    """The institution and audience an address identifies, or None (staff entering a guest)."""
    return affiliations_for_addresses(emails=[email]).get(email)


def verified_affiliations(*, user) -> list[Affiliation]:
    """The affiliations of every verified address of a user, in a stable order.

    An unverified address never counts. Runs a bounded number of queries.
    """
    if user is None or not getattr(user, "is_authenticated", False):
        return []
    addresses = list(
        EmailAddress.objects.filter(user=user, verified=True)
        .order_by("-primary", "email")
        .values_list("email", flat=True)
    )
    found = affiliations_for_addresses(emails=addresses)
    return [found[email] for email in addresses if email in found]


def is_member_on(*, institution: Institution, on: date) -> bool:
    """Whether a membership covers the date, both ends inclusive.

    Uses prefetched memberships when present (no query), otherwise asks the database.
    """
    cache = getattr(institution, "_prefetched_objects_cache", {})
    if "memberships" in cache:
        return any(
            m.starts_on <= on and (m.ends_on is None or m.ends_on >= on)
            for m in cache["memberships"]
        )
    return Membership.objects.filter(institution=institution).covering(on).exists()


def member_institution_ids_on(*, institution_ids: Sequence[int], on: date) -> set[int]:
    """Of the given institutions, the ids of those that are members on the date (one query)."""
    return set(
        Membership.objects.filter(institution_id__in=institution_ids)
        .covering(on)
        .values_list("institution_id", flat=True)
    )
