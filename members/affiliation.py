"""Who does a person verifiably belong to, and is an institution a member on a date?

The answer is built only from e-mail addresses: for each address, the institution whose
`InstitutionDomain` matches its domain exactly, or as a parent domain that allows sub-domains;
the longest (most specific) match wins. Only addresses the person has verified count.

Domains are compared in one canonical form (see `normalise_domain`): lower case, IDNA
(punycode), no leading "@" or dot, no trailing dot. Stored domains and the domains of
addresses go through the same function, so "LU.SE", "lu.se." and "@lu.se" are one domain,
and a look-alike ("lu.se.evil.com", "evil-lu.se", "ⅼu.se") is a different one.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from allauth.account.models import EmailAddress
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.db import transaction
from django.db.models import Exists, OuterRef, Prefetch, QuerySet

from .models import Institution, InstitutionDomain, Membership, User

logger = logging.getLogger(__name__)

# RFC 5321: a path is at most 256 octets including the angle brackets, a domain 253 without
# its trailing dot. Longer input is not an address, and bounding it bounds the work below.
MAX_ADDRESS_LENGTH = 254
MAX_DOMAIN_LENGTH = 253

# IDNA 2003 (Python's codec) and IDNA 2008 encode these differently: "straße.de" becomes
# "strasse.de" under 2003, a different, real domain under 2008. We refuse them rather than
# risk matching someone else's domain.
_IDNA_DEVIATION_CHARACTERS = frozenset("\u00df\u03c2\u200c\u200d")


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

    def is_member_on(self, *, on: date) -> bool:
        return is_member_on(institution=self.institution, on=on)

    def next_membership_starts_on(self, *, after: date) -> date | None:
        """The first day of the institution's next membership starting after the date, if
        one is on record (from the prefetched memberships)."""
        starts = [m.starts_on for m in self.institution.memberships.all() if m.starts_on > after]
        return min(starts, default=None)


@dataclass(frozen=True)
class AddressAffiliation:
    """One of a user's addresses, verified or not, and the institution it identifies."""

    email: str
    domain: str | None  # normalised domain of the address, None when it has no usable one
    verified: bool
    primary: bool
    affiliation: Affiliation | None

    @property
    def counts(self) -> bool:
        """Whether this address can establish who the person is (only verified ones do)."""
        return self.verified and self.affiliation is not None


class InvalidDomain(ValueError):
    pass


def normalise_domain(value: str) -> str:
    """A domain in its stored form: lower case, IDNA (punycode), no leading "@" or dot,
    no trailing dot. Raises InvalidDomain for anything that is not a host name of at least
    two labels (letters, digits and hyphens, 1 to 63 characters each, 253 in all)."""
    if not isinstance(value, str):
        raise InvalidDomain(value)
    domain = value.strip().lstrip("@").strip(".").lower()
    if (
        not domain
        or len(domain) > MAX_DOMAIN_LENGTH * 4  # before encoding; checked exactly below
        or any(c.isspace() for c in domain)
        or "@" in domain
        or ".." in domain
        or _IDNA_DEVIATION_CHARACTERS.intersection(domain)
    ):
        raise InvalidDomain(value)
    try:
        domain = domain.encode("idna").decode("ascii").lower()
    except UnicodeError as error:
        raise InvalidDomain(value) from error
    labels = domain.split(".")
    if (
        len(domain) > MAX_DOMAIN_LENGTH
        or len(labels) < 2
        or any(
            not label or len(label) > 63 or label.startswith("-") or label.endswith("-")
            for label in labels
        )
    ):
        raise InvalidDomain(value)
    if not all(c.isascii() and (c.isalnum() or c == "-") for c in domain.replace(".", "")):
        raise InvalidDomain(value)
    return domain


def domain_of_address(email: str) -> str | None:
    """The normalised domain of an e-mail address, or None when it is not a usable address.

    Only the part after the *last* "@" is the domain; odd local parts (quoted, with "@",
    with plus signs) never change which domain is judged.
    """
    if not isinstance(email, str):
        return None
    email = email.strip()
    if not email or len(email) > MAX_ADDRESS_LENGTH or "@" not in email:
        return None
    local, _, domain = email.rpartition("@")
    if not local:
        return None
    try:
        return normalise_domain(domain)
    except InvalidDomain:
        return None


def normalise_address(email: str) -> str:
    """An e-mail address in the one spelling accounts keep: the local part as given, the
    domain as IDNA decodes its canonical form (`normalise_domain`). Raises InvalidDomain when
    the address has no usable domain.

    "user@BÜCHER.example.", "user@xn--bcher-kva.example" and "user@ｂücher.example" reach
    one mailbox, so all become "user@bücher.example", and two accounts cannot hold one
    mailbox under two spellings. The Unicode form rather than punycode because it is how
    people type and recognise their address (and how allauth stored it so far); mail and
    the affiliation rules use the ASCII form, which `domain_of_address` and Django's mail
    backend derive from it.

    The local part is left alone: only the receiving server knows which local parts are
    the same mailbox. Whether the address has invisible characters, which IDNA silently
    drops from a domain, is for the caller to refuse first (members.adapter).
    """
    if not isinstance(email, str):
        raise InvalidDomain(email)
    local, _, domain = email.rpartition("@")
    # normalise_domain forgives a leading "@" or dot and surrounding spaces, as typed into a
    # domain field; inside an address they make it malformed, not another spelling.
    if not local or domain != domain.strip() or domain.startswith((".", "@")):
        raise InvalidDomain(email)
    ascii_domain = normalise_domain(domain)
    try:
        # Decoding checks each "xn--" label round-trips: one that only IDNA 2008 reads
        # ("xn--strae-oqa" for "straße") is refused, as normalise_domain refuses "ß".
        unicode_domain = ascii_domain.encode("ascii").decode("idna")
    except UnicodeError as error:
        raise InvalidDomain(email) from error
    return f"{local}@{unicode_domain}"


def _candidate_domains(domain: str) -> list[str]:
    """The domain and each parent domain, longest first: a.b.lu.se, b.lu.se, lu.se, se."""
    labels = domain.split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]


def _memberships_prefetch() -> Prefetch:
    return Prefetch(
        "institution__memberships",
        queryset=Membership.objects.order_by("starts_on"),
    )


def _match(candidates: list[str], rows: dict[str, InstitutionDomain]) -> InstitutionDomain | None:
    """The most specific listed domain that covers the first candidate, or None.

    The walk stops at the first (longest) listed domain. When that domain does not cover
    sub-domains, the address matches nothing, even if a shorter parent would cover it:
    "x.student.lu.se" under "student.lu.se" (students, exact only) and "lu.se" (staff,
    with sub-domains) is not Lund staff. The more specific entry says what that part of
    the name space is, and it says "not this".
    """
    for position, candidate in enumerate(candidates):
        row = rows.get(candidate)
        if row is None:
            continue
        if position == 0 or row.include_subdomains:
            return row
        return None
    return None


def affiliations_for_addresses(*, emails: Iterable[str]) -> dict[str, Affiliation]:
    """The affiliation of each address that has one, keyed by the address as given.

    Runs at most two queries (domains with their institutions, memberships) however many
    addresses, institutions and domains there are; none when no address is usable. Each
    affiliation's institution carries its memberships, so `Affiliation.is_member_on` runs
    no query.
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
        row = _match(candidates, rows)
        if row is not None:
            result[email] = Affiliation(
                email=email,
                domain=row.domain,
                institution=row.institution,
                audience=row.audience,
            )
    return result


def affiliation_for_address(*, email: str) -> Affiliation | None:
    """The institution and audience an address identifies, or None (staff entering a guest).

    The same rule as for a user's verified addresses; the caller vouches for the address.
    """
    return affiliations_for_addresses(emails=[email]).get(email)


# A person's affiliations take two or three queries to resolve, and the event page, the
# registration form and the registration itself each need them. They change only when an
# e-mail address, institution, domain or membership is written, so a resolution is cached,
# stamped with a generation token, and every such write replaces the token (see
# `forget_cached_affiliations` and members/signals.py): one write makes every cached
# resolution stale at once, and none is ever used under a token older than the data.
AFFILIATIONS_CACHE_SECONDS = 15 * 60
_GENERATION_KEY = "members:affiliations:generation"


def _resolution_key(user_id) -> str:
    return f"members:affiliations:user:{user_id}"


def _replace_generation() -> None:
    # Deleted, not overwritten: the cache backend drops a `set` it cannot deliver without a
    # word, but a failed delete raises, so a reset that did not happen is logged. It never
    # fails the write that caused it. A resolution cached before a lost reset can be served
    # for up to AFFILIATIONS_CACHE_SECONDS: good enough for showing a price, and why
    # registering decides from the database (resolve_verified_affiliations).
    try:
        cache.delete(_GENERATION_KEY)
    except Exception:
        logger.exception("Could not reset cached affiliations")


def forget_cached_affiliations() -> None:
    """Make every cached affiliation stale: now, and again when the current transaction
    commits (a request that read the old rows before the commit may have cached them under
    the token set now). Callers: members/signals.py for every saved or deleted address,
    institution, domain and membership, and the bulk writes that send no signals."""
    _replace_generation()
    transaction.on_commit(_replace_generation)


def verified_affiliations(*, user: User | AnonymousUser | None) -> list[Affiliation]:
    """The affiliations of every verified address of a user, primary address first, then
    by address.

    An unverified address never counts. Runs at most three queries; none when the answer
    is cached and nothing it depends on was written since (see above). Without a cache
    (Redis unreachable) it asks the database.
    """
    if user is None or not getattr(user, "is_authenticated", False):
        return []
    key = _resolution_key(user.pk)
    try:
        cached = cache.get_many([_GENERATION_KEY, key])
        generation = cached.get(_GENERATION_KEY)
        if generation is None:
            # First use, or the cache was flushed: start a generation. Whoever loses a race
            # to add it reads the winner's.
            generation = uuid.uuid4().hex
            if not cache.add(_GENERATION_KEY, generation, None):
                generation = cache.get(_GENERATION_KEY)
        stamped = cached.get(key)
    except Exception:
        logger.warning("Affiliations cache unavailable; resolving from the database")
        return resolve_verified_affiliations(user=user)
    if stamped is not None and generation is not None and stamped[0] == generation:
        return stamped[1]
    # The generation was read before the rows: if anything is written from here on, the
    # token changes and this resolution is never used.
    affiliations = resolve_verified_affiliations(user=user)
    if generation is not None:
        try:
            cache.set(key, (generation, affiliations), AFFILIATIONS_CACHE_SECONDS)
        except Exception:
            logger.warning("Affiliations cache unavailable; not keeping a resolution")
    return affiliations


def verified_addresses(*, user: User) -> list[str]:
    """The person's verified e-mail addresses, primary first: the only ones that show who
    they are (one query)."""
    return list(
        EmailAddress.objects.filter(user=user, verified=True)
        .order_by("-primary", "email")
        .values_list("email", flat=True)
    )


def resolve_verified_affiliations(*, user: User) -> list[Affiliation]:
    """`verified_affiliations` from the database, bypassing the cache (at most three
    queries)."""
    addresses = verified_addresses(user=user)
    found = affiliations_for_addresses(emails=addresses)
    return [found[email] for email in addresses if email in found]


def affiliations_by_address(*, user: User) -> list[AddressAffiliation]:
    """Every address of a user, verified or not, with the institution it identifies, primary
    address first, then by address. For showing a person what their addresses give; only
    the verified ones count (`AddressAffiliation.counts`). Runs at most three queries.
    """
    if user is None or not getattr(user, "is_authenticated", False):
        return []
    addresses = list(
        EmailAddress.objects.filter(user=user)
        .order_by("-primary", "email")
        .values_list("email", "verified", "primary")
    )
    found = affiliations_for_addresses(emails=[email for email, _, _ in addresses])
    return [
        AddressAffiliation(
            email=email,
            domain=domain_of_address(email),
            verified=verified,
            primary=primary,
            affiliation=found.get(email),
        )
        for email, verified, primary in addresses
    ]


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


def with_member_flag(
    *, institutions: QuerySet[Institution], on: date, name: str = "is_member"
) -> QuerySet[Institution]:
    """The institutions annotated with `name`: whether they are members on the date (the
    same rule as `is_member_on`), computed in the same query, for lists and filters."""
    covering = Membership.objects.filter(institution=OuterRef("pk")).covering(on)
    return institutions.annotate(**{name: Exists(covering)})


class AddressOfAnotherAccount(ValueError):
    """The address is another account's: it signs in with it, or has confirmed it."""


def is_address_of_another_account(*, email: str, user: User | None) -> bool:
    """Whether an account other than `user` (None: any account) signs in with the address or
    has verified it, whatever the case of its letters (two queries at most)."""
    users = User.objects.filter(email__iexact=email)
    addresses = EmailAddress.objects.filter(email__iexact=email, verified=True)
    if user is not None and user.pk is not None:
        users = users.exclude(pk=user.pk)
        addresses = addresses.exclude(user=user)
    return users.exists() or addresses.exists()


@transaction.atomic
def record_address_vouched_for_by_staff(*, user: User, email: str) -> EmailAddress:
    """Record an address that staff entered for a person (in the admin) as verified and as
    their primary address: staff vouch that it is theirs, so the person signs in without
    confirming it, and it counts for their affiliation like any verified address (an
    institution's address gives its rate).

    Guarantees afterwards: the user has exactly one primary address, this one, verified and
    spelt as given; `user.email` is the same spelling; the user's other addresses are kept,
    none of them primary (the person removes them on their e-mail page, as allauth's own
    change of primary address leaves them). Raises AddressOfAnotherAccount, changing
    nothing, when another account signs in with the address or has verified it.
    """
    if is_address_of_another_account(email=email, user=user):
        raise AddressOfAnotherAccount(email)
    address = EmailAddress.objects.filter(user=user, email__iexact=email).first()
    if address is None:
        address = EmailAddress(user=user)
    # Before the save below: the database allows one primary address per user.
    others = EmailAddress.objects.filter(user=user, primary=True)
    if address.pk is not None:
        others = others.exclude(pk=address.pk)
    others.update(primary=False)
    address.email = email
    address.verified = True
    address.primary = True
    address.save()  # resets cached affiliations (members/signals.py), the update above too
    if user.email != email:
        user.email = email
        user.save(update_fields=["email"])
    return address
