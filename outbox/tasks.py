"""Celery tasks of the outbox. They take ids only and call outbox.services."""

import logging

from celery import shared_task
from celery.exceptions import Retry
from celery.signals import worker_process_shutdown
from django.db import InterfaceError, OperationalError

from . import services

logger = logging.getLogger(__name__)


@shared_task(
    name="outbox.send_email",
    bind=True,
    max_retries=None,
    time_limit=5 * 60,
    # The database unreachable or out of connections: try again shortly rather than leave
    # the row to the sweep.
    autoretry_for=(OperationalError, InterfaceError),
    retry_kwargs={"max_retries": 5},
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
)
def send_email(self, email_id: int) -> str:
    """Send one outgoing e-mail by id. Idempotent: a row already sent, failed or in flight
    elsewhere is left alone. On a temporary SMTP failure the task queues itself again after
    the back-off the service chose; should the broker be unreachable for that, the sweep
    re-publishes the row once it is due."""
    result = services.send_queued_email(email_id=email_id)
    if result.retry_in is not None:
        try:
            raise self.retry(countdown=result.retry_in)
        except Retry:
            raise
        except Exception as error:
            logger.warning("Could not queue the retry of e-mail %s (%s).", email_id, error)
    return result.status


@shared_task(name="outbox.sweep_outbox", ignore_result=True)
def sweep_outbox() -> dict:
    """Re-publish rows the broker lost or never got, and rescue rows of dead workers."""
    result = services.sweep_outbox()
    return {"republished": result.republished, "rescued": result.rescued}


@shared_task(name="outbox.delete_old_sent_emails", ignore_result=True)
def delete_old_sent_emails() -> int:
    return services.delete_old_sent_emails()


@worker_process_shutdown.connect
def close_smtp_connection(**kwargs) -> None:
    services.close_connection()
