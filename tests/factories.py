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


class OutgoingEmailFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OutgoingEmail

    kind = "prerendered"
    recipient = factory.Sequence(lambda n: f"recipient{n}@example.org")
    subject = "Hello"
    body_text = "Hello there."


# --- Back office (admin) helpers -------------------------------------------------------------


def event_staff_user(**fields) -> User:
    """A staff account in the "Event staff" group (created by a data migration)."""
    from django.contrib.auth.models import Group

    user = UserFactory(is_staff=True, **fields)
    user.groups.add(Group.objects.get(name="Event staff"))
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
