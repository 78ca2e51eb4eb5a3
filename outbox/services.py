"""Writing, sending and sweeping outgoing e-mail.

The outbox knows nothing about what a message is about: other apps register a renderer for
each kind of message (`register_renderer`) and write rows with `queue_email` inside the
transaction of the change that causes them.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.mail import EmailMessage, EmailMultiAlternatives, get_connection
from django.db import IntegrityError, transaction
from django.db.models import Model
from django.utils import timezone, translation

from .models import OutgoingEmail

logger = logging.getLogger(__name__)

PRERENDERED = "prerendered"

Renderer = Callable[[OutgoingEmail], EmailMessage]
_renderers: dict[str, Renderer] = {}


def register_renderer(kind: str, renderer: Renderer) -> None:
    """Make `renderer` build the messages of `kind` at send time."""
    _renderers[kind] = renderer


def queue_email(
    *,
    kind: str,
    recipient: str,
    language: str = "en",
    context: dict | None = None,
    dedup_key: str | None = None,
    about: Model | None = None,
    subject: str = "",
    body_text: str = "",
    body_html: str = "",
) -> OutgoingEmail | None:
    """Write one outgoing message and queue its sending once the transaction commits.

    Guarantees: the row exists if and only if the surrounding transaction commits; a message
    with a `dedup_key` that already exists is not written again (returns None); the broker
    receives only the row's id, and a broker outage never raises here (the sweep sends later).
    """
    email = OutgoingEmail(
        kind=kind,
        recipient=recipient,
        language=language,
        context=context or {},
        dedup_key=dedup_key,
        subject=subject,
        body_text=body_text,
        body_html=body_html,
    )
    if about is not None:
        email.content_type = ContentType.objects.get_for_model(about, for_concrete_model=False)
        email.object_id = about.pk
    if dedup_key is not None:
        try:
            with transaction.atomic():
                email.save()
        except IntegrityError:
            if OutgoingEmail.objects.filter(dedup_key=dedup_key).exists():
                return None
            raise
    else:
        email.save()
    transaction.on_commit(lambda: publish_email(email_id=email.pk))
    return email


def publish_email(*, email_id: int) -> bool:
    """Hand a row's id to the broker. Returns False (and logs) when the broker is unreachable;
    the row then stays queued until the periodic sweep publishes it again."""
    from .tasks import send_email

    try:
        send_email.apply_async(args=[email_id], retry=False)
    except Exception:
        logger.warning("Broker unreachable; outgoing e-mail %s waits for the sweep.", email_id)
        return False
    return True


@dataclass(frozen=True)
class SendResult:
    sent: bool
    skipped: bool = False


def build_message(email: OutgoingEmail) -> EmailMessage:
    """The message for a row, in the row's language, with its stable Message-ID."""
    with translation.override(email.language or settings.LANGUAGE_CODE):
        if email.kind == PRERENDERED:
            message = EmailMultiAlternatives(
                subject=email.subject,
                body=email.body_text,
                to=[email.recipient],
            )
            if email.body_html:
                message.attach_alternative(email.body_html, "text/html")
        else:
            message = _renderers[email.kind](email)
    message.extra_headers["Message-ID"] = email.message_id
    return message


def send_queued_email(*, email_id: int) -> SendResult:
    """Send one row unless it is already sent, failed or being sent by another worker.

    Guarantees: two workers given the same row never both send it (the row is locked and
    marked in flight before the SMTP conversation starts).
    """
    with transaction.atomic():
        email = (
            OutgoingEmail.objects.select_for_update(skip_locked=True).filter(pk=email_id).first()
        )
        if email is None or email.status not in (
            OutgoingEmail.Status.QUEUED,
            OutgoingEmail.Status.AWAITING_RETRY,
        ):
            return SendResult(sent=False, skipped=True)
        email.status = OutgoingEmail.Status.IN_FLIGHT
        email.attempts += 1
        email.save(update_fields=["status", "attempts", "updated_at"])

    message = build_message(email)
    with get_connection() as connection:
        message.connection = connection
        message.send()

    OutgoingEmail.objects.filter(pk=email.pk).update(
        status=OutgoingEmail.Status.SENT, sent_at=timezone.now(), last_error=""
    )
    return SendResult(sent=True)
