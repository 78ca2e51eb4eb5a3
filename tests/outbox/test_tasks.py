"""Celery wiring: the beat schedule names real tasks, and the periodic tasks call the services
with the configured values. (Tasks are called in-process here; delivery through a real
worker is in test_delivery.py.)"""

import datetime

import pytest
from celery.schedules import crontab
from django.conf import settings
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from events import notifications
from events.models import Registration
from events.tasks import erase_special_category_data, send_event_reminders
from mva.celery import app
from outbox import services
from outbox.models import OutgoingEmail
from outbox.tasks import delete_old_sent_emails, sweep_outbox
from tests.factories import EventFactory, OutgoingEmailFactory, RegistrationFactory

from .backends import ScriptedBackend


def test_every_scheduled_task_exists_and_the_sweep_runs_every_minute():
    app.loader.import_default_modules()
    schedule = settings.CELERY_BEAT_SCHEDULE
    for entry in schedule.values():
        assert entry["task"] in app.tasks, entry["task"]
    assert {entry["task"] for entry in schedule.values()} == {
        "outbox.sweep_outbox",
        "events.send_event_reminders",
        "outbox.delete_old_sent_emails",
        "events.erase_special_category_data",
    }
    sweep = schedule["outbox-sweep"]
    assert sweep["schedule"] == 60.0 and sweep["options"]["expires"] < 60
    assert schedule["event-reminders"]["schedule"] == crontab(minute=5)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("days_before", "starts_in", "reminded"), [(2, 1, 1), (2, 3, 0), (4, 3, 1)]
)
def test_reminder_task_uses_the_configured_days(settings, days_before, starts_in, reminded):
    settings.REMINDER_DAYS_BEFORE = days_before
    starts = timezone.now() + datetime.timedelta(days=starts_in)
    event = EventFactory(
        starts_at=starts, registration_opens_at=starts - datetime.timedelta(days=30)
    )
    registration = RegistrationFactory(
        event=event,
        status=Registration.Status.CONFIRMED,
        confirmed_at=starts - datetime.timedelta(days=20),  # long before the reminders
    )
    RegistrationFactory(event=event, status=Registration.Status.WAITLISTED)

    assert send_event_reminders() == reminded
    assert send_event_reminders() == 0  # once only
    assert (
        OutgoingEmail.objects.filter(kind=notifications.REMINDER, object_id=registration.pk).count()
        == reminded
    )


@pytest.mark.django_db
def test_sweep_and_clean_up_tasks_call_the_services(monkeypatch):
    published = []
    monkeypatch.setattr(
        services,
        "publish_email",
        lambda *, email_id, countdown=None, even_if_broker_failed=False: published.append(email_id),
    )
    long_ago = timezone.now() - datetime.timedelta(days=100)
    waiting = OutgoingEmailFactory(next_attempt_at=long_ago)
    old = OutgoingEmailFactory(status=OutgoingEmail.Status.SENT, sent_at=long_ago)

    assert sweep_outbox() == {"republished": 1, "rescued": 0}
    assert published == [waiting.pk]
    assert delete_old_sent_emails() == 1
    assert not OutgoingEmail.objects.filter(pk=old.pk).exists()


@pytest.mark.django_db
def test_erase_task_blanks_special_category_data_after_the_event():
    ended = timezone.now() - datetime.timedelta(days=200)
    past = EventFactory(
        starts_at=ended - datetime.timedelta(hours=6),
        ends_at=ended,
        registration_opens_at=ended - datetime.timedelta(days=60),
        registration_closes_at=ended - datetime.timedelta(days=1),
        cancellation_deadline=ended - datetime.timedelta(days=2),
    )
    registration = RegistrationFactory(event=past, dietary_needs="Halal")

    assert erase_special_category_data() == 1
    registration.refresh_from_db()
    assert registration.dietary_needs == ""


@pytest.fixture
def scripted_backend(settings):
    settings.EMAIL_BACKEND = "tests.outbox.backends.ScriptedBackend"
    ScriptedBackend.reset()
    services.close_connection()
    yield ScriptedBackend
    services.close_connection()
    ScriptedBackend.reset()


@pytest.mark.django_db
@override_settings(ACCOUNT_RATE_LIMITS_ENABLED=False)
def test_allauth_verification_mail_goes_through_the_outbox(client, scripted_backend):
    response = client.post(
        reverse("account_signup"),
        {
            "first_name": "Karin",
            "last_name": "Berg",
            "email": "karin@example.org",
            "password1": "a-long-and-unusual-passphrase",
            "password2": "a-long-and-unusual-passphrase",
        },
    )
    assert response.status_code == 302
    # Nothing sent during the request: the mail waits in the outbox for a worker.
    assert scripted_backend.sent == []
    email = OutgoingEmail.objects.get(recipient="karin@example.org")
    assert email.kind == services.PRERENDERED
    assert "/accounts/confirm-email/" in email.body_text

    assert services.send_queued_email(email_id=email.pk).sent
    (message,) = scripted_backend.sent
    assert message.subject.startswith("[MVA Events] ")
    assert message.extra_headers["Message-ID"] == email.message_id


@pytest.mark.django_db
@override_settings(ACCOUNT_RATE_LIMITS_ENABLED=False)
def test_allauth_password_reset_mail_goes_through_the_outbox(client, user, scripted_backend):
    response = client.post(reverse("account_reset_password"), {"email": user.email})
    assert response.status_code == 302
    email = OutgoingEmail.objects.get(recipient=user.email)
    assert "/accounts/password/reset/key/" in email.body_text
    assert services.send_queued_email(email_id=email.pk).sent
