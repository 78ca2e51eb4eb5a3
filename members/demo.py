"""Demo member list: a realistic Öresund set of institutions, their e-mail domains, memberships
(relative to today, so the demo keeps working over the years) and MVA's themed networks.

Called by the `load_demo_data` command. Idempotent: running it again, on any day, leaves one
copy of everything and memberships matching that day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db import transaction
from django.utils import timezone

from .affiliation import forget_cached_affiliations
from .models import Institution, InstitutionDomain, Membership, Network

DEMO_MEMBERSHIP_NOTE = "Demo membership"

Kind = Institution.Kind
Country = Institution.Country
STAFF = InstitutionDomain.Audience.STAFF
STUDENTS = InstitutionDomain.Audience.STUDENTS

# How each institution's memberships relate to today.
CURRENT = "current"  # from three years ago to the end of next year
OPEN = "open"  # since two years ago, running on
RENEWED = "renewed"  # an earlier period that ended, then a current one
LAPSED = "lapsed"  # ended at the end of last year
STARTS_NEXT_YEAR = "starts next year"
NEVER = "never"


@dataclass(frozen=True)
class DemoInstitution:
    name: str
    short_name: str
    kind: str
    country: str
    website: str
    domains: tuple[tuple[str, bool, str], ...]  # (domain, include_subdomains, audience)
    membership: str


DEMO_INSTITUTIONS: tuple[DemoInstitution, ...] = (
    DemoInstitution(
        "Lund University", "LU", Kind.UNIVERSITY, Country.SWEDEN, "https://www.lu.se",
        (("lu.se", True, STAFF), ("student.lu.se", False, STUDENTS)), RENEWED,
    ),
    DemoInstitution(
        "University of Copenhagen", "UCPH", Kind.UNIVERSITY, Country.DENMARK, "https://www.ku.dk",
        (("ku.dk", True, STAFF), ("alumni.ku.dk", False, STUDENTS)), OPEN,
    ),
    DemoInstitution(
        "Malmö University", "MAU", Kind.UNIVERSITY, Country.SWEDEN, "https://mau.se",
        (("mau.se", True, STAFF),), CURRENT,
    ),
    DemoInstitution(
        "Technical University of Denmark", "DTU", Kind.UNIVERSITY, Country.DENMARK,
        "https://www.dtu.dk", (("dtu.dk", True, STAFF),), CURRENT,
    ),
    DemoInstitution(
        "Copenhagen Business School", "CBS", Kind.UNIVERSITY, Country.DENMARK, "https://www.cbs.dk",
        (("cbs.dk", True, STAFF), ("student.cbs.dk", False, STUDENTS)), LAPSED,
    ),
    DemoInstitution(
        "Roskilde University", "RUC", Kind.UNIVERSITY, Country.DENMARK, "https://ruc.dk",
        (("ruc.dk", True, STAFF),), STARTS_NEXT_YEAR,
    ),
    DemoInstitution(
        "Aarhus University", "AU", Kind.UNIVERSITY, Country.DENMARK, "https://www.au.dk",
        (("au.dk", True, STAFF),), NEVER,
    ),
    DemoInstitution(
        "Region Skåne", "Skåne", Kind.HOSPITAL, Country.SWEDEN, "https://www.skane.se",
        (("skane.se", True, STAFF),), OPEN,
    ),
    DemoInstitution(
        "Rigshospitalet – Capital Region of Denmark", "RH", Kind.HOSPITAL, Country.DENMARK,
        "https://www.rigshospitalet.dk", (("regionh.dk", True, STAFF),), CURRENT,
    ),
    DemoInstitution(
        "Novo Nordisk A/S", "Novo Nordisk", Kind.COMPANY, Country.DENMARK,
        "https://www.novonordisk.com", (("novonordisk.com", True, STAFF),), OPEN,
    ),
    DemoInstitution(
        "LEO Pharma A/S", "LEO Pharma", Kind.COMPANY, Country.DENMARK,
        "https://www.leo-pharma.com", (("leo-pharma.com", True, STAFF),), CURRENT,
    ),
    DemoInstitution(
        "Camurus AB", "Camurus", Kind.COMPANY, Country.SWEDEN, "https://www.camurus.com",
        (("camurus.com", False, STAFF),), CURRENT,
    ),
    DemoInstitution(
        "Novo Holdings A/S", "Novo Holdings", Kind.INVESTOR, Country.DENMARK,
        "https://www.novoholdings.dk", (("novoholdings.dk", True, STAFF),), CURRENT,
    ),
    DemoInstitution(
        "Industrifonden", "Industrifonden", Kind.INVESTOR, Country.SWEDEN,
        "https://industrifonden.com", (("industrifonden.se", True, STAFF),), CURRENT,
    ),
    DemoInstitution(
        "Copenhagen Capacity", "CopCap", Kind.PUBLIC, Country.DENMARK, "https://www.copcap.com",
        (("copcap.com", True, STAFF),), CURRENT,
    ),
    DemoInstitution(
        "Vinnova – Sweden's Innovation Agency", "Vinnova", Kind.PUBLIC, Country.SWEDEN,
        "https://www.vinnova.se", (("vinnova.se", True, STAFF),), CURRENT,
    ),
    DemoInstitution(
        "Medicon Village", "Medicon Village", Kind.OTHER, Country.SWEDEN,
        "https://www.mediconvillage.se", (("mediconvillage.se", True, STAFF),), OPEN,
    ),
    DemoInstitution(
        "BioInnovation Institute", "BII", Kind.OTHER, Country.DENMARK, "https://bii.dk",
        (("bii.dk", True, STAFF),), CURRENT,
    ),
)  # fmt: skip

# slug -> (name, description). Events refer to networks by these slugs.
DEMO_NETWORKS: dict[str, tuple[str, str]] = {
    "oncology": (
        "Oncology",
        "Cancer researchers, clinicians and companies across the Öresund region: from basic "
        "tumour biology to clinical trials and new cancer therapies.",
    ),
    "medtech": (
        "MedTech",
        "Medical technology: devices, diagnostics and digital health, from the lab bench to "
        "hospital procurement.",
    ),
    "commercialisation": (
        "Commercialisation of research",
        "Innovation & entrepreneurship: turning research into companies, licences and products "
        "— tech transfer offices, founders and investors.",
    ),
    "microbiome": (
        "Microbiome",
        "The human microbiome in health and disease: research, clinical applications and the "
        "companies building on them.",
    ),
}


def demo_periods(membership: str, *, today: date) -> list[tuple[date, date | None]]:
    """The membership periods of a demo institution, relative to today."""
    year = today.year
    if membership == CURRENT:
        return [(date(year - 3, 1, 1), date(year + 1, 12, 31))]
    if membership == OPEN:
        return [(date(year - 2, 1, 1), None)]
    if membership == RENEWED:
        return [
            (date(year - 6, 1, 1), date(year - 4, 12, 31)),
            (date(year - 3, 1, 1), date(year + 1, 12, 31)),
        ]
    if membership == LAPSED:
        return [(date(year - 4, 1, 1), date(year - 1, 12, 31))]
    if membership == STARTS_NEXT_YEAR:
        return [(date(year + 1, 1, 1), None)]
    return []


def _sync_demo_memberships(institution: Institution, wanted: list[tuple[date, date | None]]):
    # Only the demo's own periods are replaced; any a staff member added stay.
    existing = {
        (m.starts_on, m.ends_on): m
        for m in institution.memberships.filter(note=DEMO_MEMBERSHIP_NOTE)
    }
    stale = [m.pk for period, m in existing.items() if period not in wanted]
    if stale:
        Membership.objects.filter(pk__in=stale).delete()
    Membership.objects.bulk_create(
        Membership(
            institution=institution,
            starts_on=starts_on,
            ends_on=ends_on,
            note=DEMO_MEMBERSHIP_NOTE,
        )
        for starts_on, ends_on in wanted
        if (starts_on, ends_on) not in existing
    )
    # bulk_create sends no signals (members/signals.py), so cached affiliations are reset here.
    forget_cached_affiliations()


@transaction.atomic
def load_members_demo(*, today: date | None = None) -> str:
    """Create or refresh the demo institutions, domains, memberships and networks.

    Idempotent: a second run (on the same or any later day) leaves exactly one copy of each;
    memberships are recomputed relative to `today` (default: today in Copenhagen). Returns a
    one-paragraph summary for the command's output.
    """
    today = today or timezone.localdate()
    for demo in DEMO_INSTITUTIONS:
        institution, _created = Institution.objects.update_or_create(
            name=demo.name,
            defaults={
                "short_name": demo.short_name,
                "kind": demo.kind,
                "country": demo.country,
                "website": demo.website,
            },
        )
        for domain, include_subdomains, audience in demo.domains:
            InstitutionDomain.objects.update_or_create(
                domain=domain,
                defaults={
                    "institution": institution,
                    "include_subdomains": include_subdomains,
                    "audience": audience,
                },
            )
        _sync_demo_memberships(institution, demo_periods(demo.membership, today=today))
    for slug, (name, description) in DEMO_NETWORKS.items():
        Network.objects.update_or_create(
            slug=slug, defaults={"name": name, "description": description}
        )
    members_today = (
        Institution.objects.filter(memberships__in=Membership.objects.covering(today))
        .distinct()
        .count()
    )
    return (
        f"{Institution.objects.count()} institutions ({members_today} members today), "
        f"{InstitutionDomain.objects.count()} e-mail domains, {Network.objects.count()} "
        "networks. Try the free-admission rule by signing up as someone@med.lu.se (Lund "
        "staff), someone@student.lu.se (Lund students), someone@cbs.dk (membership lapsed) "
        "or someone@ruc.dk (membership starts next year); the verification mail is printed "
        "on the console."
    )
