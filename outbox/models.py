import uuid
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def new_message_id() -> str:
    # Stable for the row's life, so a retried send is recognisably the same message. The
    # site's own host on the right: a Message-ID without a real domain is a spam signal.
    host = urlsplit(settings.SITE_URL).hostname or "localhost"
    return f"<{uuid.uuid4().hex}@{host}>"


class OutgoingEmailQuerySet(models.QuerySet):
    def for_object(self, obj):
        return self.filter(
            content_type=ContentType.objects.get_for_model(obj, for_concrete_model=False),
            object_id=obj.pk,
        )


class OutgoingEmail(models.Model):
    """One message to send, written in the transaction of the change that causes it.

    A message is either rendered at send time by the renderer registered under `kind` (which
    receives `context`, holding ids only), or stored ready-made in subject/body_text/body_html
    (kind "prerendered", as for allauth's mails).
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        IN_FLIGHT = "in_flight", _("In flight")
        AWAITING_RETRY = "awaiting_retry", _("Awaiting retry")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        # The renderer found the message no longer applies (a wait-list notice for someone
        # promoted meanwhile, a reminder for a cancelled registration).
        SKIPPED = "skipped", _("Not needed any more")

    # Rows a worker may pick up; every other status is final or being worked on.
    SENDABLE = (Status.QUEUED, Status.AWAITING_RETRY)

    kind = models.CharField(_("kind"), max_length=100)
    # One-time messages (one confirmation per registration, …) carry a key; the unique
    # constraint makes a second one impossible.
    dedup_key = models.CharField(
        _("de-duplication key"), max_length=200, unique=True, null=True, blank=True
    )
    recipient = models.EmailField(_("recipient"))
    language = models.CharField(_("language"), max_length=10, default="en")
    context = models.JSONField(_("context"), default=dict, blank=True)
    subject = models.CharField(_("subject"), max_length=998, blank=True)
    body_text = models.TextField(_("text body"), blank=True)
    body_html = models.TextField(_("HTML body"), blank=True)

    # What the message is about, so staff see it beside that object; no import of its app.
    content_type = models.ForeignKey(
        ContentType, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    object_id = models.PositiveBigIntegerField(null=True, blank=True)
    about = GenericForeignKey("content_type", "object_id")

    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.QUEUED
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    message_id = models.CharField(
        _("Message-ID"), max_length=255, unique=True, default=new_message_id, editable=False
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    next_attempt_at = models.DateTimeField(_("next attempt at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    # When a worker took the row; the sweep re-queues rows whose worker died mid-send.
    in_flight_since = models.DateTimeField(_("in flight since"), null=True, blank=True)

    objects = OutgoingEmailQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("outgoing e-mail")
        verbose_name_plural = _("outgoing e-mails")
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    status__in=[
                        "queued",
                        "in_flight",
                        "awaiting_retry",
                        "sent",
                        "failed",
                        "skipped",
                    ]
                ),
                name="outgoing_email_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status="in_flight") | Q(in_flight_since__isnull=False),
                name="outgoing_email_in_flight_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False),
                name="outgoing_email_sent_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["content_type", "object_id"]),
            # A person's e-mails, case ignored (their data export, their account deletion).
            models.Index(Lower("recipient"), name="outgoing_email_recipient"),
        ]

    def __str__(self):
        # The kinds' labels are registered with the sending service, which imports this module.
        from .services import kind_label

        return f"{kind_label(self.kind)} → {self.recipient} ({self.get_status_display()})"
