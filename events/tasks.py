"""Periodic tasks of the events app (scheduled by Celery beat, see CELERY_BEAT_SCHEDULE)."""

from celery import shared_task
from django.conf import settings

from . import notifications, services


@shared_task(name="events.send_event_reminders", ignore_result=True)
def send_event_reminders() -> int:
    """Queue the reminder e-mail for confirmed attendees of events starting in
    REMINDER_DAYS_BEFORE days. Runs hourly; the reminder's de-duplication key makes running
    it again (or overlapping runs) harmless."""
    return notifications.queue_reminders(days_before=settings.REMINDER_DAYS_BEFORE)


@shared_task(name="events.erase_special_category_data", ignore_result=True)
def erase_special_category_data() -> int:
    """Erase dietary and accessibility needs a set time after each event (GDPR Art. 9);
    the service decides how long."""
    return services.erase_special_category_data()
