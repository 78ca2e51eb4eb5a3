from celery import shared_task

from . import services


@shared_task(name="outbox.send_email")
def send_email(email_id: int) -> bool:
    """Send one outgoing e-mail by id (idempotent: a row already sent is skipped)."""
    return services.send_queued_email(email_id=email_id).sent
