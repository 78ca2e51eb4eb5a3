"""/account/affiliation/: what each of a person's addresses gives."""

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format

from tests.factories import (
    InstitutionDomainFactory,
    InstitutionFactory,
    MembershipFactory,
    UserFactory,
    add_email,
)

URL = "/account/affiliation/"


@pytest.fixture
def institutions(db):
    today = timezone.localdate()
    lund = InstitutionFactory(name="Lund University")
    InstitutionDomainFactory(institution=lund, domain="lu.se")
    InstitutionDomainFactory(
        institution=lund, domain="student.lu.se", audience="students", include_subdomains=False
    )
    MembershipFactory(institution=lund)
    cbs = InstitutionFactory(name="Copenhagen Business School")
    InstitutionDomainFactory(institution=cbs, domain="cbs.dk")
    MembershipFactory(
        institution=cbs,
        starts_on=today - datetime.timedelta(days=700),
        ends_on=today - datetime.timedelta(days=1),
    )
    return {"lund": lund, "cbs": cbs}


def lines(response) -> list[str]:
    """The text of each address's card, whitespace collapsed."""
    html = response.content.decode()
    cards = re.findall(r'<li class="card" id="address-\d+">(.*?)</li>', html, flags=re.S)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", card)).strip() for card in cards]


def test_the_url_is_the_documented_one():
    assert reverse("members:affiliation") == URL


def test_anonymous_visitors_are_sent_to_sign_in(client, db):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_each_address_says_what_it_gives(client, institutions, django_assert_max_num_queries):
    user = UserFactory(email="anna@gmail.com")
    add_email(user, "anna.svensson@med.lu.se")
    add_email(user, "anna@student.lu.se")
    add_email(user, "anna@cbs.dk")
    add_email(user, "anna@lu.se", verified=False)
    client.force_login(user)
    response = client.get(URL)
    assert response.status_code == 200
    assert lines(response) == [
        "anna@gmail.com primary gmail.com — no institution",
        "anna.svensson@med.lu.se med.lu.se — Lund University, staff, member today",
        "anna@cbs.dk cbs.dk — Copenhagen Business School, staff, not a member today",
        "anna@lu.se lu.se — Lund University, staff, member today does not count until "
        "verified Verify anna@lu.se",
        "anna@student.lu.se student.lu.se — Lund University, students, member today A student "
        "address gives no member rate: the member rates are for staff.",
    ]
    content = response.content.decode()
    assert "Staff of member universities attend MVA events free of charge" in content
    email_page = reverse("account_email")
    assert f'<a href="{email_page}">Verify anna@lu.se</a>' in content
    assert f'href="{email_page}">Add or verify an e-mail address</a>' in content


@pytest.mark.parametrize("address_count", [1, 5])
def test_the_page_runs_a_fixed_number_of_queries(
    client, institutions, django_assert_num_queries, address_count
):
    user = UserFactory(email="anna@lu.se")
    for n in range(address_count - 1):
        add_email(user, f"anna{n}@cbs.dk", verified=n % 2 == 0)
    client.force_login(user)
    # user, addresses, domains with institutions, memberships (the session comes from the cache)
    with django_assert_num_queries(4):
        response = client.get(URL)
    assert len(lines(response)) == address_count


def test_a_person_without_addresses_is_told_how_to_add_one(client, db):
    user = UserFactory(email="staff@mva.example")
    user.emailaddress_set.all().delete()
    client.force_login(user)
    response = client.get(URL)
    assert response.status_code == 200
    content = response.content.decode()
    assert "You have no e-mail addresses on record yet." in content
    assert reverse("account_email") in content


def test_the_page_renders_in_the_visitors_language(client, institutions):
    user = UserFactory(email="anna@lu.se")
    client.force_login(user)
    with translation.override("en"):  # the request switches the thread's language; restore it
        response = client.get(URL, headers={"accept-language": "sv"})
    assert response.status_code == 200
    assert '<html lang="sv">' in response.content.decode()


def test_a_membership_that_starts_soon_is_named_with_its_first_day(client, institutions):
    starts_on = timezone.localdate() + datetime.timedelta(days=20)
    ruc = InstitutionFactory(name="Roskilde University")
    InstitutionDomainFactory(institution=ruc, domain="ruc.dk")
    MembershipFactory(institution=ruc, starts_on=starts_on, ends_on=None)
    client.force_login(UserFactory(email="sven@ruc.dk"))
    with translation.override("en"):
        expected_day = date_format(starts_on, "DATE_FORMAT")
    assert lines(client.get(URL)) == [
        f"sven@ruc.dk primary ruc.dk — Roskilde University, staff, member from {expected_day}"
    ]


@pytest.mark.parametrize(
    ("email", "invited"),
    [("anna@gmail.com", True), ("anna@lu.se", False), ("anna@cbs.dk", False)],
    ids=["private address", "member institution", "lapsed institution"],
)
def test_only_people_without_an_institutional_address_are_asked_to_add_one(
    client, institutions, email, invited
):
    client.force_login(UserFactory(email=email))
    content = client.get(URL).content.decode()
    assert ("Signed up with a private address?" in content) is invited
    assert reverse("account_email") in content


@pytest.mark.parametrize(
    ("email", "invited"),
    [("anna@gmail.com", True), ("anna@lu.se", False)],
    ids=["private address", "institutional address"],
)
def test_the_e_mail_page_asks_only_people_without_an_institutional_address(
    client, institutions, email, invited
):
    client.force_login(UserFactory(email=email))
    content = client.get(reverse("account_email")).content.decode()
    assert ("Add and confirm your institutional address" in content) is invited
    assert ("Work at more than one institution?" in content) is not invited


def test_the_e_mail_page_says_when_another_confirmation_can_be_sent(client, institutions):
    user = UserFactory(email="anna@lu.se")
    client.force_login(user)
    note = "A new confirmation link can be sent a few minutes after the last one"
    assert note not in client.get(reverse("account_email")).content.decode()
    add_email(user, "anna@cbs.dk", verified=False)
    assert note in client.get(reverse("account_email")).content.decode()


# --- The e-mail page: one set of actions per address ------------------------------------------


def forms_by_address(html: str) -> dict[str, set[str]]:
    """Each address's form on the e-mail page, and the actions (button names) it offers."""
    found = {}
    for form in re.findall(
        r'<form method="post"[^>]*class="inline-actions">(.*?)</form>', html, re.S
    ):
        address = re.search(r'name="email" value="([^"]+)"', form).group(1)
        found[address] = set(re.findall(r'name="(action_\w+)"', form))
    return found


def test_each_address_offers_only_the_actions_that_make_sense_for_it(client, institutions):
    user = UserFactory(email="anna@gmail.com")
    add_email(user, "anna@lu.se")
    add_email(user, "anna@cbs.dk", verified=False)
    client.force_login(user)

    html = client.get(reverse("account_email")).content.decode()

    assert forms_by_address(html) == {
        # The primary address has nothing to do: it is confirmed and cannot be removed.
        "anna@lu.se": {"action_primary", "action_remove"},
        "anna@cbs.dk": {"action_send", "action_remove"},
    }


def test_sending_the_link_again_acts_on_that_address(client, institutions, mailoutbox):
    from outbox.models import OutgoingEmail

    user = UserFactory(email="anna@gmail.com")
    add_email(user, "anna@cbs.dk", verified=False)
    client.force_login(user)

    response = client.post(
        reverse("account_email"), {"email": "anna@cbs.dk", "action_send": ""}, follow=True
    )

    assert response.status_code == 200
    assert OutgoingEmail.objects.filter(recipient="anna@cbs.dk").count() == 1
    assert not OutgoingEmail.objects.filter(recipient="anna@gmail.com").exists()


def test_making_an_address_primary_acts_on_that_address(client, institutions):
    from allauth.account.models import EmailAddress

    user = UserFactory(email="anna@gmail.com")
    add_email(user, "anna@lu.se")
    client.force_login(user)

    client.post(reverse("account_email"), {"email": "anna@lu.se", "action_primary": ""})

    assert EmailAddress.objects.get(user=user, primary=True).email == "anna@lu.se"


def test_asking_again_too_soon_says_the_earlier_link_still_works(client, institutions):
    from django.contrib.messages import get_messages

    from outbox.models import OutgoingEmail

    user = UserFactory(email="anna@gmail.com")
    add_email(user, "anna@cbs.dk", verified=False)
    client.force_login(user)
    ask = {"email": "anna@cbs.dk", "action_send": ""}

    first = client.post(reverse("account_email"), ask)
    second = client.post(reverse("account_email"), ask)

    first_texts = [str(m) for m in get_messages(first.wsgi_request)]
    second_texts = [str(m) for m in get_messages(second.wsgi_request)]
    assert any("anna@cbs.dk" in text and "sent" in text for text in first_texts)
    assert not any("a few minutes ago" in text for text in first_texts)
    assert second_texts[-1] == (
        "A confirmation link went to anna@cbs.dk a few minutes ago and still works; "
        "another can be sent shortly."
    )
    assert OutgoingEmail.objects.filter(recipient="anna@cbs.dk").count() == 1
