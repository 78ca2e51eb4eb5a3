"""factory_boy factories for every model. Shared by all tests; add to it, don't fork it."""

import datetime
from decimal import Decimal

import factory
from allauth.account.models import EmailAddress
from django.utils import timezone

from events.models import AdmissionCategory, Event, ProgrammeItem, Registration
from members.models import Institution, InstitutionDomain, Membership, Network, User
from outbox.models import OutgoingEmail

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.org")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    job_title = "Researcher"
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def verified(obj, create, extracted, **kwargs):
        """The primary address is verified unless `verified=False` is passed."""
        obj.save()
        if create:
            EmailAddress.objects.create(
                user=obj,
                email=obj.email,
                primary=True,
                verified=True if extracted is None else extracted,
            )


def signup_data(**overrides) -> dict[str, str]:
    """The sign-up form as a new member-university researcher fills it in."""
    return {
        "first_name": "Astrid",
        "last_name": "Lindqvist",
        "job_title": "Associate professor",
        "email": "astrid.lindqvist@med.lu.se",
        "password1": PASSWORD,
        "password2": PASSWORD,
        **overrides,
    }


def add_email(user: User, email: str, *, verified: bool = True) -> EmailAddress:
    """Give a user one more address, verified or not."""
    return EmailAddress.objects.create(user=user, email=email, primary=False, verified=verified)


class NetworkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Network
        django_get_or_create = ["slug"]

    name = factory.Sequence(lambda n: f"Network {n}")
    slug = factory.Sequence(lambda n: f"network-{n}")
    description = "A themed network."


class InstitutionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Institution

    name = factory.Sequence(lambda n: f"Institution {n}")
    short_name = factory.Sequence(lambda n: f"I{n}")
    kind = Institution.Kind.UNIVERSITY
    country = Institution.Country.SWEDEN
    website = "https://example.org"


class InstitutionDomainFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InstitutionDomain

    institution = factory.SubFactory(InstitutionFactory)
    domain = factory.Sequence(lambda n: f"inst{n}.example.edu")
    include_subdomains = True
    audience = InstitutionDomain.Audience.STAFF


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    institution = factory.SubFactory(InstitutionFactory)
    starts_on = factory.LazyFunction(lambda: timezone.localdate() - datetime.timedelta(days=365))
    ends_on = factory.LazyFunction(lambda: timezone.localdate() + datetime.timedelta(days=365))


def member_institution(*, domain: str, kind=Institution.Kind.UNIVERSITY, **fields) -> Institution:
    """An institution with a staff domain and a membership covering the coming year."""
    institution = InstitutionFactory(kind=kind, **fields)
    InstitutionDomainFactory(institution=institution, domain=domain)
    MembershipFactory(institution=institution)
    return institution


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Event

    title = factory.Sequence(lambda n: f"Event {n}")
    slug = factory.Sequence(lambda n: f"event-{n}")
    summary = "A meeting of the network."
    description = "Talks and networking."
    venue = "Medicon Village"
    address = "Scheelevägen 2, 223 81 Lund, Sweden"
    starts_at = factory.LazyFunction(lambda: timezone.now() + datetime.timedelta(days=30))
    ends_at = factory.LazyAttribute(lambda o: o.starts_at + datetime.timedelta(hours=6))
    capacity = 100
    registration_opens_at = factory.LazyFunction(
        lambda: timezone.now() - datetime.timedelta(days=10)
    )
    registration_closes_at = factory.LazyAttribute(
        lambda o: o.starts_at - datetime.timedelta(days=1)
    )
    cancellation_deadline = factory.LazyAttribute(
        lambda o: o.starts_at - datetime.timedelta(days=2)
    )
    status = Event.Status.PUBLISHED
    has_waiting_list = True
    member_university_staff_free = True
    member_price = Decimal("500.00")
    standard_price = Decimal("1200.00")
    currency = "DKK"


class ProgrammeItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProgrammeItem

    event = factory.SubFactory(EventFactory)
    starts_at = factory.LazyAttribute(lambda o: o.event.starts_at)
    ends_at = factory.LazyAttribute(lambda o: o.starts_at + datetime.timedelta(minutes=45))
    title = factory.Sequence(lambda n: f"Talk {n}")
    speakers = "Dr. Jane Doe"


class RegistrationFactory(factory.django.DjangoModelFactory):
    """A registration row written directly (no service, no counters): for read-side tests.
    Tests of registering go through events.services."""

    class Meta:
        model = Registration

    event = factory.SubFactory(EventFactory)
    user = factory.SubFactory(UserFactory)
    first_name = factory.LazyAttribute(lambda o: o.user.first_name if o.user else "Guest")
    last_name = factory.LazyAttribute(lambda o: o.user.last_name if o.user else "Person")
    email = factory.LazyAttribute(
        lambda o: o.user.email if o.user else f"guest{Registration.objects.count()}@example.org"
    )
    category = AdmissionCategory.NON_MEMBER
    price = Decimal("1200.00")
    currency = "DKK"
    price_reason = "Standard price: no member institution."
    status = Registration.Status.CONFIRMED
    confirmed_at = factory.LazyFunction(timezone.now)
    cancelled_at = factory.LazyAttribute(
        lambda o: timezone.now() if o.status == Registration.Status.CANCELLED else None
    )


class OutgoingEmailFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OutgoingEmail

    kind = "prerendered"
    recipient = factory.Sequence(lambda n: f"recipient{n}@example.org")
    subject = "Hello"
    body_text = "Hello there."


# --- Back office (admin) helpers -------------------------------------------------------------


def event_staff_group():
    """The "Event staff" group of the data migration. A transactional test (live server,
    concurrency) flushes every table afterwards, data migrations' rows included; the group
    is then rebuilt from the migrations' own lists of permissions."""
    import importlib

    from django.contrib.auth.models import Group, Permission
    from django.db.models import Q

    migration = importlib.import_module("events.migrations.0003_event_staff_group")
    group, created = Group.objects.get_or_create(name=migration.GROUP_NAME)
    if created:
        wanted = Q(pk__in=[])
        for app_label, models in migration.PERMISSIONS.items():
            for model, actions in models.items():
                wanted |= Q(
                    content_type__app_label=app_label,
                    codename__in=[f"{action}_{model}" for action in actions],
                )
        added = importlib.import_module("events.migrations.0013_special_needs_permission")
        for app_label, codename in added.ADDED_PERMISSIONS:
            wanted |= Q(content_type__app_label=app_label, codename=codename)
        group.permissions.set(Permission.objects.filter(wanted))
    return group


def event_staff_user(**fields) -> User:
    """A staff account in the "Event staff" group (created by a data migration)."""
    user = UserFactory(is_staff=True, **fields)
    user.groups.add(event_staff_group())
    return user


def admin_form_data(response) -> dict:
    """The POST data a browser would send back from an admin change form as rendered:
    the main form's values and every inline formset (management form and forms)."""
    from django.forms import MultiWidget

    data: dict = {}

    def add(form):
        for name, field in form.fields.items():
            value = form[name].value()
            key = form.add_prefix(name)
            if isinstance(field.widget, MultiWidget):
                for index, part in enumerate(field.widget.decompress(value)):
                    if part is not None:
                        data[f"{key}_{index}"] = part.isoformat()
            elif value is None or value is False:
                continue
            elif value is True:
                data[key] = "on"
            elif isinstance(value, list | tuple):
                data[key] = [str(item) for item in value]
            else:
                data[key] = str(value.pk if hasattr(value, "pk") else value)

    add(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        add(inline.formset.management_form)
        for form in inline.formset.initial_forms:
            add(form)
    return data


BULK_REGISTRATIONS_SQL = """
INSERT INTO events_registration (
    event_id, user_id, first_name, last_name, email, job_title, institution_id,
    institution_name, category, price, currency, price_reason, price_override_reason, status,
    created_at, confirmed_at, cancelled_at, language, dietary_needs, accessibility_needs,
    listed_as_participant, billing_organisation, billing_address, billing_vat_number,
    billing_po_reference, billing_ean_number, ticket_code, checked_in_at
)
SELECT
    e.id, NULL,
    (%(first_names)s::text[])[1 + (n * 7 + e.id) %% 8],
    (%(last_names)s::text[])[1 + (n * 3 + e.id) %% 7],
    'person' || n || '.' || e.id || '@example.org',
    'Researcher', i.id, COALESCE(i.name, ''),
    (ARRAY['member_university_staff', 'member', 'non_member'])[1 + n %% 3],
    (ARRAY[0, 500, 1200])[1 + n %% 3],
    'DKK', 'Bulk data.', '',
    CASE n %% 10 WHEN 8 THEN 'waitlisted' WHEN 9 THEN 'cancelled' ELSE 'confirmed' END,
    now() - make_interval(days => (n * 13 + e.id::int) %% 61, mins => n),
    CASE WHEN n %% 10 < 8 THEN now() - make_interval(days => (n * 13 + e.id::int) %% 61) END,
    CASE WHEN n %% 10 = 9 THEN now() END,
    'en', '', '', false, '', '', '', '', '',
    md5(random()::text || n || '.' || e.id) || md5(n || random()::text),
    CASE WHEN n %% 10 < 8 AND n %% 5 = 0 THEN now() END
FROM unnest(%(events)s::bigint[]) AS e(id)
CROSS JOIN generate_series(0, %(per_event)s - 1) AS n
LEFT JOIN members_institution AS i
    -- One slot more than there are institutions: that slot is NULL, a person with none.
    ON i.id = (%(institutions)s::bigint[])[1 + (n * 11 + e.id) %% %(institution_slots)s]
"""

BULK_COUNTERS_SQL = """
UPDATE events_event AS event
SET confirmed_count = counts.confirmed, waitlisted_count = counts.waitlisted
FROM (
    SELECT event_id,
           count(*) FILTER (WHERE status = 'confirmed') AS confirmed,
           count(*) FILTER (WHERE status = 'waitlisted') AS waitlisted
    FROM events_registration WHERE event_id = ANY(%(events)s::bigint[]) GROUP BY event_id
) AS counts
WHERE event.id = counts.event_id
"""


def bulk_registrations(*, events: int = 20, registrations: int = 20_000) -> list[Event]:
    """A large, realistic back office in about a second: `registrations` spread evenly over
    `events` published events, across 60 institutions of every kind and country (and some
    people with none), 80 % confirmed, 10 % wait-listed, 10 % cancelled, every category,
    some checked in, registered over the last two months. Rows are generated inside
    PostgreSQL (no services, no e-mails); the event counters are then set to match them.
    For query-count tests and the admin benchmark."""
    from django.db import connection

    now = timezone.now()
    kinds, countries = Institution.Kind.values, Institution.Country.values
    institutions = Institution.objects.bulk_create(
        Institution(
            name=f"Bulk institution {n}",
            short_name=f"B{n}",
            kind=kinds[n % len(kinds)],
            country=countries[n % len(countries)],
        )
        for n in range(60)
    )
    created_events = Event.objects.bulk_create(
        Event(
            title=f"Bulk event {n}",
            slug=f"bulk-event-{n}",
            starts_at=now + datetime.timedelta(days=30 + n),
            ends_at=now + datetime.timedelta(days=30 + n, hours=6),
            capacity=registrations // events,
            status=Event.Status.PUBLISHED,
            currency="DKK",
        )
        for n in range(events)
    )
    parameters = {
        "events": [event.pk for event in created_events],
        "institutions": [institution.pk for institution in institutions],
        "institution_slots": len(institutions) + 1,
        "per_event": registrations // events,
        "first_names": ["Astrid", "Bo", "Camilla", "Dan", "Emma", "Frederik", "Greta", "Henrik"],
        "last_names": ["Lindqvist", "Hansen", "Nielsen", "Andersson", "Berg", "Holm", "Jensen"],
    }
    with connection.cursor() as cursor:
        cursor.execute(BULK_REGISTRATIONS_SQL, parameters)
        cursor.execute(BULK_COUNTERS_SQL, parameters)
        # Fresh statistics, as autovacuum would give a real database.
        cursor.execute("ANALYZE events_registration")
    for event in created_events:
        event.refresh_from_db(fields=["confirmed_count", "waitlisted_count"])
    return created_events
