"""A researcher at a member university signs up, confirms her address, registers free of
charge, and cancels — in a real browser against a live server."""

import re

import pytest
from playwright.sync_api import expect

from events.models import Registration
from outbox.models import OutgoingEmail
from tests.factories import EventFactory, member_institution

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EMAIL = "lena.nilsson@med.lu.se"
PASSWORD = "a-long-and-unusual-passphrase-42"


def confirmation_link(recipient: str) -> str:
    message = OutgoingEmail.objects.filter(recipient=recipient).order_by("-id").first()
    assert message is not None, "the sign-up wrote no verification e-mail to the outbox"
    match = re.search(r"https?://\S+/accounts/confirm-email/\S+/", message.body_text)
    assert match, message.body_text
    return match.group(0)


def test_member_university_researcher_registers_free_and_cancels(
    live_server, page, tmp_path, settings
):
    member_institution(domain="lu.se", name="Lund University")
    event = EventFactory(title="Annual Meeting", slug="annual-meeting", standard_price=1200)

    # The event page tells a stranger that member-university staff attend free.
    settings.SITE_URL = live_server.url  # where the e-mails' links lead
    page.goto(f"{live_server.url}{event.get_absolute_url()}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Annual Meeting")
    expect(page.locator("main")).to_contain_text("Staff of member universities")

    # Sign up with the university address.
    page.get_by_role("link", name="Create an account").click()
    page.fill("input[name=first_name]", "Lena")
    page.fill("input[name=last_name]", "Nilsson")
    page.fill("input[name=job_title]", "Postdoctoral researcher")
    page.fill("input[name=email]", EMAIL)
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.locator("main").get_by_role("button", name="Sign up").click()
    expect(page.locator("main")).to_contain_text(EMAIL)

    # Confirm the address with the link from the e-mail the outbox holds.
    link = confirmation_link(EMAIL)
    assert link.startswith(live_server.url)
    page.goto(link)
    page.locator("main").get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    # The event page now shows her price and why.
    page.goto(f"{live_server.url}{event.get_absolute_url()}")
    expect(page.locator(".your-price")).to_contain_text("Free")
    expect(page.locator(".price-reason")).to_contain_text("Lund University")

    # Register: no invoice details are asked for a free place.
    page.get_by_role("link", name="Register", exact=True).click()
    expect(page.locator(".decision")).to_contain_text("Free")
    expect(page.locator(".decision")).to_contain_text("Lund University")
    expect(page.locator("input[name=billing_organisation]")).to_have_count(0)
    page.get_by_label("Dietary needs").fill("Vegetarian")
    page.get_by_label("Show my name, job title and institution on the participant list").check()
    page.locator("form").get_by_role("button", name="Register").click()

    expect(page.locator(".messages")).to_contain_text("You are registered for Annual Meeting")
    expect(page.locator(".registration-status")).to_contain_text("Confirmed")
    expect(page.locator(".registration-status")).to_contain_text("Free")
    expect(page.locator(".registration-status")).to_contain_text("Lund University")
    expect(page.locator(".ticket svg")).to_be_visible()
    registration = Registration.objects.get(email=EMAIL)
    assert registration.status == Registration.Status.CONFIRMED
    assert registration.price == 0
    assert registration.institution_name == "Lund University"

    # Cancel, through the confirmation page.
    page.get_by_role("link", name="Cancel my registration").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Cancel your registration?")
    expect(page.locator("main")).to_contain_text("Are you sure")
    page.get_by_role("button", name="Yes, cancel my registration").click()

    expect(page.locator(".messages")).to_contain_text("is cancelled")
    expect(page.locator(".registration-status")).to_contain_text("Cancelled")
    expect(page.locator(".ticket")).to_have_count(0)
    registration.refresh_from_db()
    assert registration.status == Registration.Status.CANCELLED

    screenshot = tmp_path / "registration-cancelled.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 0
