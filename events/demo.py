"""Demo events: the annual meeting, a meeting of each themed network, a past event and a full
event with a waiting list. Dates are relative to today, so the demo keeps working.

Called by the `load_demo_data` command after the member list (members.demo). Idempotent:
events are keyed by slug, programme items by title, attendees by e-mail, and the full
event's registrations go through events.services, which returns an existing registration
instead of making a second one.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from allauth.account.models import EmailAddress
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from members.models import Network, User

from .models import Event, ProgrammeItem, Registration
from .services import RegistrationDetails, register_for_event

ANNUAL_MEETING_SLUG = "mva-annual-meeting"
PAST_EVENT_SLUG = "oncology-spring-meeting-past"
FULL_EVENT_SLUG = "medicon-village-imaging-lab-tour"

FREE_FOR_RESEARCHERS = (
    "Participation for researchers at member universities (for example Lund University or the "
    "University of Copenhagen) is free of charge, as the universities are members of the "
    "Medicon Valley Alliance. Staff of other member institutions pay the member price."
)


def _at(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    """A wall-clock time in Copenhagen on a day."""
    return timezone.make_aware(
        datetime.datetime.combine(day, datetime.time(hour, minute)),
        timezone.get_default_timezone(),
    )


@dataclass(frozen=True)
class DemoItem:
    starts: tuple[int, int]
    ends: tuple[int, int]
    title: str
    speakers: str = ""
    description: str = ""


ANNUAL_MEETING_PROGRAMME = (
    DemoItem((8, 30), (9, 15), "Registration and morning coffee"),
    DemoItem(
        (9, 15),
        (9, 40),
        "Welcome: Medicon Valley in a changing world",
        "Anette Steenberg, CEO, Medicon Valley Alliance",
        "The state of the region's life-science cluster: jobs, investment and research output "
        "on both sides of the Øresund.",
    ),
    DemoItem(
        (9, 40),
        (10, 30),
        "Ministers' panel: one life-science region, two countries",
        "The Danish Minister for Industry, Business and Financial Affairs; the Swedish "
        "Minister for Infrastructure and Housing; moderated by Anette Steenberg",
        "How Danish and Swedish policy can make it easier to work, study and build companies "
        "across the bridge.",
    ),
    DemoItem(
        (10, 30),
        (11, 0),
        "Keynote: From the lab to the patient",
        "Prof. Maria Andersson, Lund University",
        "Translational research in the region and what it takes to reach patients faster.",
    ),
    DemoItem(
        (11, 0),
        (12, 0),
        "Investors' session: capital for Nordic life science",
        "Novo Holdings, Industrifonden, BioInnovation Institute",
        "Where the money is going in 2020s life science, and what investors look for.",
    ),
    DemoItem((12, 0), (13, 0), "Lunch"),
    DemoItem(
        (13, 0),
        (14, 30),
        "Company pitches",
        "Ten start-ups and scale-ups from Medicon Valley",
        "Five-minute pitches from young companies in therapeutics, medtech and digital health.",
    ),
    DemoItem(
        (14, 30),
        (15, 15),
        "Clinical care as an innovation partner",
        "Region Skåne and Rigshospitalet",
        "How hospitals on both sides of the Øresund work with companies on trials and procurement.",
    ),
    DemoItem(
        (15, 15),
        (17, 30),
        "Networking reception",
        description="Drinks, exhibition stands and the chance to meet the whole cluster.",
    ),
)


@dataclass(frozen=True)
class DemoNetworkMeeting:
    network_slug: str
    slug: str
    title: str
    summary: str
    venue: str
    address: str
    days_ahead: int
    capacity: int
    member_price: str
    standard_price: str


NETWORK_MEETINGS = (
    DemoNetworkMeeting(
        "oncology",
        "oncology-network-meeting",
        "Oncology network: immunotherapy beyond the checkpoint",
        "Researchers, oncologists and companies on the next wave of cancer immunotherapy.",
        "Biotech Research & Innovation Centre (BRIC)",
        "Ole Maaløes Vej 5, 2200 Copenhagen N, Denmark",
        21,
        120,
        "0",
        "450",
    ),
    DemoNetworkMeeting(
        "medtech",
        "medtech-network-meeting",
        "MedTech network: getting devices through the new EU regulation",
        "Practical experience with the Medical Device Regulation from notified bodies and "
        "companies.",
        "Ideon Science Park",
        "Scheelevägen 15, 223 70 Lund, Sweden",
        28,
        80,
        "250",
        "750",
    ),
    DemoNetworkMeeting(
        "commercialisation",
        "commercialisation-network-meeting",
        "Commercialisation of research: from patent to start-up",
        "Tech transfer offices, founders and investors on spinning companies out of research.",
        "BioInnovation Institute",
        "Ole Maaløes Vej 3, 2200 Copenhagen N, Denmark",
        35,
        100,
        "0",
        "500",
    ),
    DemoNetworkMeeting(
        "microbiome",
        "microbiome-network-meeting",
        "Microbiome network: the gut–brain axis",
        "New findings on the microbiome's role in neurological disease, and the companies "
        "building on them.",
        "Medicon Village",
        "Scheelevägen 2, 223 81 Lund, Sweden",
        49,
        60,
        "0",
        "350",
    ),
)

# Attendees of the full event: (first name, last name, e-mail, job title).
DEMO_ATTENDEES = (
    ("Astrid", "Holm", "astrid.holm@med.lu.se", "Associate professor"),
    ("Jonas", "Berg", "jonas.berg@ku.dk", "Postdoc"),
    ("Freja", "Madsen", "freja.madsen@regionh.dk", "Consultant radiologist"),
    ("Oskar", "Lindberg", "oskar.lindberg@skane.se", "Medical physicist"),
    ("Ida", "Kristensen", "ida.kristensen@novonordisk.com", "Senior scientist"),
    ("Erik", "Nyström", "erik.nystrom@mau.se", "Lecturer"),
    ("Sofie", "Laursen", "sofie.laursen@dtu.dk", "PhD student"),
    ("Lars", "Eriksson", "lars.eriksson@camurus.com", "Project manager"),
    ("Maja", "Sørensen", "maja.sorensen@leo-pharma.com", "Imaging specialist"),
    ("Hugo", "Persson", "hugo.persson@mediconvillage.se", "Facility coordinator"),
    ("Karin", "Ahlgren", "karin.ahlgren@example.com", "Independent consultant"),
    ("Mads", "Jensen", "mads.jensen@bii.dk", "Venture lead"),
    # Wait-listed: they arrive after the twelve seats are taken.
    ("Elsa", "Wikström", "elsa.wikstrom@lu.se", "Research engineer"),
    ("Rasmus", "Nielsen", "rasmus.nielsen@student.lu.se", "Master's student"),
    ("Clara", "Dahl", "clara.dahl@au.dk", "Assistant professor"),
)
FULL_EVENT_CAPACITY = 12

DEMO_BILLING = RegistrationDetails(
    billing_organisation="Demo organisation",
    billing_address="Scheelevägen 2, 223 81 Lund, Sweden",
    billing_po_reference="DEMO",
)


def _event(slug: str, **fields) -> Event:
    # update_or_create saves only these fields, so the counters maintained by the services
    # are never overwritten by a re-run.
    event, _created = Event.objects.update_or_create(slug=slug, defaults=fields)
    return event


def _programme(event: Event, items: tuple[DemoItem, ...], day: datetime.date) -> None:
    titles = []
    for item in items:
        ProgrammeItem.objects.update_or_create(
            event=event,
            title=item.title,
            defaults={
                "starts_at": _at(day, *item.starts),
                "ends_at": _at(day, *item.ends),
                "speakers": item.speakers,
                "description": item.description,
            },
        )
        titles.append(item.title)
    ProgrammeItem.objects.filter(event=event).exclude(title__in=titles).delete()


def _attendee(first_name: str, last_name: str, email: str, job_title: str) -> User:
    user, _created = User.objects.get_or_create(
        email=email,
        defaults={
            "first_name": first_name,
            "last_name": last_name,
            "job_title": job_title,
            "password": make_password(None),  # demo attendees cannot log in
        },
    )
    EmailAddress.objects.update_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    return user


def _annual_meeting(today: datetime.date) -> Event:
    day = today + datetime.timedelta(days=42)
    event = _event(
        ANNUAL_MEETING_SLUG,
        title="Medicon Valley Alliance Annual Meeting",
        network=None,
        summary="A day of talks by ministers, investors and companies from both sides of the "
        "Øresund, then networking.",
        description="The annual meeting gathers the whole Medicon Valley life-science cluster: "
        "universities, hospitals, companies and investors from Denmark and Sweden.\n\n"
        + FREE_FOR_RESEARCHERS,
        venue="Tivoli Congress Center",
        address="Arni Magnussons Gade 2, 1577 Copenhagen V, Denmark",
        starts_at=_at(day, 8, 30),
        ends_at=_at(day, 17, 30),
        capacity=400,
        registration_opens_at=_at(today - datetime.timedelta(days=14), 9),
        registration_closes_at=_at(day - datetime.timedelta(days=3), 23, 59),
        cancellation_deadline=_at(day - datetime.timedelta(days=7), 23, 59),
        status=Event.Status.PUBLISHED,
        has_waiting_list=True,
        member_university_staff_free=True,
        member_price=Decimal("1200.00"),
        standard_price=Decimal("2900.00"),
        currency="DKK",
    )
    _programme(event, ANNUAL_MEETING_PROGRAMME, day)
    return event


def _network_meetings(today: datetime.date) -> list[Event]:
    networks = {
        n.slug: n
        for n in Network.objects.filter(slug__in=[m.network_slug for m in NETWORK_MEETINGS])
    }
    events = []
    for meeting in NETWORK_MEETINGS:
        network = networks.get(meeting.network_slug)
        if network is None:
            continue  # the member demo was not loaded; a network meeting needs its network
        day = today + datetime.timedelta(days=meeting.days_ahead)
        event = _event(
            meeting.slug,
            title=meeting.title,
            network=network,
            summary=meeting.summary,
            description=f"{meeting.summary}\n\nA meeting of MVA's {network.name} network. "
            + FREE_FOR_RESEARCHERS,
            venue=meeting.venue,
            address=meeting.address,
            starts_at=_at(day, 13),
            ends_at=_at(day, 17),
            capacity=meeting.capacity,
            registration_opens_at=_at(today - datetime.timedelta(days=7), 9),
            registration_closes_at=_at(day - datetime.timedelta(days=1), 12),
            cancellation_deadline=_at(day - datetime.timedelta(days=2), 23, 59),
            status=Event.Status.PUBLISHED,
            has_waiting_list=True,
            member_university_staff_free=True,
            member_price=Decimal(meeting.member_price),
            standard_price=Decimal(meeting.standard_price),
            currency="DKK",
        )
        _programme(
            event,
            (
                DemoItem((13, 0), (13, 15), "Welcome and introduction", "Network chair"),
                DemoItem((13, 15), (14, 45), "Talks", "Speakers from academia and industry"),
                DemoItem((14, 45), (15, 15), "Coffee break"),
                DemoItem((15, 15), (16, 15), "Panel discussion"),
                DemoItem((16, 15), (17, 0), "Networking"),
            ),
            day,
        )
        events.append(event)
    return events


def _past_event(today: datetime.date) -> Event:
    day = today - datetime.timedelta(days=60)
    event = _event(
        PAST_EVENT_SLUG,
        title="Oncology network: spring meeting on liquid biopsies",
        network=Network.objects.filter(slug="oncology").first(),
        summary="Circulating tumour DNA in the clinic: where the Öresund region stands.",
        description="A half-day meeting of clinicians and researchers on liquid biopsies.",
        venue="Skåne University Hospital, Lund",
        address="Entrégatan 7, 222 42 Lund, Sweden",
        starts_at=_at(day, 13),
        ends_at=_at(day, 17),
        capacity=80,
        registration_opens_at=_at(day - datetime.timedelta(days=40), 9),
        registration_closes_at=_at(day - datetime.timedelta(days=1), 12),
        cancellation_deadline=_at(day - datetime.timedelta(days=2), 23, 59),
        status=Event.Status.PUBLISHED,
        has_waiting_list=True,
        member_university_staff_free=True,
        member_price=Decimal("0.00"),
        standard_price=Decimal("300.00"),
        currency="SEK",
    )
    _programme(
        event,
        (
            DemoItem((13, 0), (14, 0), "Liquid biopsies in routine care", "Region Skåne"),
            DemoItem((14, 0), (15, 0), "ctDNA in clinical trials", "Rigshospitalet"),
            DemoItem((15, 15), (17, 0), "Discussion and networking"),
        ),
        day,
    )
    return event


def _full_event(today: datetime.date) -> Event:
    day = today + datetime.timedelta(days=14)
    event = _event(
        FULL_EVENT_SLUG,
        title="Lab tour: the imaging facility at Medicon Village",
        network=Network.objects.filter(slug="medtech").first(),
        summary="A guided tour of the preclinical imaging facility, for twelve people at a time.",
        description="See the MRI, PET/CT and optical imaging instruments and meet the staff "
        "who run them. Places are limited; a waiting list is kept.",
        venue="Medicon Village, building 406",
        address="Scheelevägen 2, 223 81 Lund, Sweden",
        starts_at=_at(day, 10),
        ends_at=_at(day, 12),
        capacity=FULL_EVENT_CAPACITY,
        registration_opens_at=_at(today - datetime.timedelta(days=10), 9),
        registration_closes_at=_at(day - datetime.timedelta(days=1), 12),
        cancellation_deadline=_at(day - datetime.timedelta(days=2), 23, 59),
        status=Event.Status.PUBLISHED,
        has_waiting_list=True,
        member_university_staff_free=True,
        member_price=Decimal("150.00"),
        standard_price=Decimal("400.00"),
        currency="SEK",
    )
    _programme(
        event,
        (
            DemoItem((10, 0), (10, 20), "Introduction to the facility", "Hugo Persson"),
            DemoItem((10, 20), (11, 30), "Guided tour of the instruments"),
            DemoItem((11, 30), (12, 0), "Questions and coffee"),
        ),
        day,
    )
    # Registered as if on `today`, so a demo built for another day is still consistent.
    moment = timezone.now() if today == timezone.localdate() else _at(today, 12)
    for first_name, last_name, email, job_title in DEMO_ATTENDEES:
        user = _attendee(first_name, last_name, email, job_title)
        register_for_event(event_id=event.pk, user=user, details=DEMO_BILLING, now=moment)
    return event


@transaction.atomic
def load_events_demo(*, today: datetime.date | None = None) -> str:
    """Create or refresh the demo events and return a one-line summary.

    Idempotent: a second run leaves one copy of each event, programme item, attendee and
    registration (and writes no new e-mail); dates move with `today` (default: today in
    Copenhagen). Network meetings are made for the networks that exist (members.demo).
    """
    today = today or timezone.localdate()
    annual = _annual_meeting(today)
    meetings = _network_meetings(today)
    past = _past_event(today)
    full = _full_event(today)
    full.refresh_from_db()
    slugs = [annual.slug, past.slug, full.slug, *(m.slug for m in meetings)]
    return (
        f"{len(slugs)} events ({len(meetings)} network meetings), "
        f"{ProgrammeItem.objects.filter(event__slug__in=slugs).count()} programme items, "
        f"{Registration.objects.filter(event=full).count()} registrations for the full event "
        f"({full.confirmed_count} confirmed, {full.waitlisted_count} wait-listed)."
    )
