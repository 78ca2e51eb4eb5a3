import pytest
from django.urls import reverse
from django.utils import timezone

from outbox.models import OutgoingEmail
from tests.factories import OutgoingEmailFactory

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
