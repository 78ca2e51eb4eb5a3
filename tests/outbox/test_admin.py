import pytest
from django.urls import reverse
from django.utils import timezone

from outbox.models import OutgoingEmail
from tests.factories import OutgoingEmailFactory, event_staff_user

Status = OutgoingEmail.Status


@pytest.mark.django_db
def test_staff_send_failed_mail_again_and_are_told_what_was_left_alone(client, staff_user):
    failed = OutgoingEmailFactory(status=Status.FAILED, attempts=10, last_error="550 No such user")
    sent = OutgoingEmailFactory(status=Status.SENT, sent_at=timezone.now())
    client.force_login(staff_user)

    response = client.post(
        reverse("admin:outbox_outgoingemail_changelist"),
        {"action": "send_again", "_selected_action": [failed.pk, sent.pk]},
        follow=True,
    )

    assert response.status_code == 200
    texts = [str(message) for message in response.context["messages"]]
    assert texts == [
        "1 e-mail queued again.",
        "1 e-mail was not failed or skipped and was left alone.",
    ]
    failed.refresh_from_db()
    sent.refresh_from_db()
    assert (failed.status, failed.attempts) == (Status.QUEUED, 0)
    assert sent.status == Status.SENT


@pytest.mark.django_db
def test_outbox_list_and_detail_pages_show_the_error(client, staff_user):
    email = OutgoingEmailFactory(status=Status.FAILED, last_error="550 5.1.1 No such user")
    client.force_login(staff_user)
    assert client.get(reverse("admin:outbox_outgoingemail_changelist")).status_code == 200
    response = client.get(reverse("admin:outbox_outgoingemail_change", args=[email.pk]))
    assert "550 5.1.1 No such user" in response.content.decode()


@pytest.mark.django_db
def test_a_ready_made_body_is_never_shown_it_may_hold_a_reset_link(client, staff_user):
    email = OutgoingEmailFactory(
        kind="prerendered",
        subject="Password reset",
        body_text="Reset it: https://events.mva.org/accounts/password/reset/key/3x-secret/",
        body_html='<a href="/accounts/password/reset/key/3x-secret/">Reset</a>',
    )
    client.force_login(staff_user)
    page = client.get(reverse("admin:outbox_outgoingemail_change", args=[email.pk]))
    assert page.status_code == 200
    assert "Password reset" in page.content.decode()
    assert "3x-secret" not in page.content.decode()


@pytest.mark.django_db
def test_sending_again_needs_the_change_permission_not_only_view(client):
    failed = OutgoingEmailFactory(status=Status.FAILED, attempts=10)
    client.force_login(event_staff_user())  # may view the outbox, not change it
    changelist = reverse("admin:outbox_outgoingemail_changelist")

    assert "send_again" not in client.get(changelist).content.decode()
    client.post(changelist, {"action": "send_again", "_selected_action": [failed.pk]})

    failed.refresh_from_db()
    assert failed.status == Status.FAILED


@pytest.mark.django_db
def test_rows_name_their_kind_show_the_error_and_link_to_what_they_are_about(client, staff_user):
    from events import notifications
    from tests.factories import RegistrationFactory

    registration = RegistrationFactory()
    row = notifications.queue_confirmation(registration=registration)
    OutgoingEmail.objects.filter(pk=row.pk).update(
        status=Status.FAILED, last_error="550 5.1.1 No such user " + "x" * 200
    )
    client.force_login(staff_user)

    listing = client.get(reverse("admin:outbox_outgoingemail_changelist")).content.decode()
    page = client.get(reverse("admin:outbox_outgoingemail_change", args=[row.pk]))

    assert 'change/">Confirmation</a></th>' in listing
    assert "550 5.1.1 No such user" in listing
    assert "x" * 100 not in listing  # the list shows the start of a long error
    link = reverse("admin:events_registration_change", args=[registration.pk])
    assert f'href="{link}"' in page.content.decode()
    assert "Object id" not in page.content.decode()
    # The page's title and breadcrumb name the kind as staff know it, not its code.
    assert f"Confirmation → {registration.email} (Failed)" in page.content.decode()
    assert "events.confirmation" not in page.content.decode()


@pytest.mark.django_db
def test_the_kind_filter_offers_the_names_staff_know(client, staff_user):
    OutgoingEmailFactory(kind="events.reminder")
    OutgoingEmailFactory(kind="prerendered")
    client.force_login(staff_user)

    response = client.get(reverse("admin:outbox_outgoingemail_changelist"), {"kind": "prerendered"})

    content = response.content.decode()
    assert "Reminder" in content and "Account e-mail (sign-up, password)" in content
    assert [row.kind for row in response.context["cl"].result_list] == ["prerendered"]


@pytest.mark.django_db
def test_sending_again_with_nothing_to_send_says_only_that(client, staff_user):
    sent = OutgoingEmailFactory(status=Status.SENT, sent_at=timezone.now())
    client.force_login(staff_user)

    response = client.post(
        reverse("admin:outbox_outgoingemail_changelist"),
        {"action": "send_again", "_selected_action": [sent.pk]},
        follow=True,
    )

    texts = [str(message) for message in response.context["messages"]]
    assert texts == ["1 e-mail was not failed or skipped and was left alone."]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        {"body_text__contains": "reset/key/1-s"},
        {"body_html__icontains": "key"},
        {"context__has_key": "registration_id"},
        {"recipient__startswith": "a"},
    ],
)
def test_the_list_refuses_filters_on_fields_it_does_not_offer(client, query):
    """Otherwise a ready-made body's reset link could be guessed a character at a time."""
    OutgoingEmailFactory(
        kind="prerendered", body_text="https://x/accounts/password/reset/key/1-secret/"
    )
    client.force_login(event_staff_user())

    response = client.get(reverse("admin:outbox_outgoingemail_changelist"), query)

    assert response.status_code == 400


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        {"status__exact": "failed"},
        {"kind": "prerendered"},
        {"created_at__year": "2026"},
        {"q": "someone"},
    ],
)
def test_the_list_still_filters_by_what_it_offers(client, query):
    OutgoingEmailFactory()
    client.force_login(event_staff_user())

    response = client.get(reverse("admin:outbox_outgoingemail_changelist"), query)

    assert response.status_code == 200
