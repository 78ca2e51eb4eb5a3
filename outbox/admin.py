from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import services
from .models import OutgoingEmail

# A ready-made body (allauth's mails) holds a password-reset or address-confirmation link:
# whoever reads it can take over the account, so the admin never shows it.
SECRET_FIELDS = ["body_text", "body_html"]


@admin.register(OutgoingEmail)
class OutgoingEmailAdmin(admin.ModelAdmin):
    list_display = ["kind", "recipient", "status", "attempts", "created_at", "sent_at"]
    list_filter = ["status", "kind"]
    search_fields = ["recipient", "dedup_key"]
    exclude = SECRET_FIELDS
    readonly_fields = [f.name for f in OutgoingEmail._meta.fields if f.name not in SECRET_FIELDS]
    date_hierarchy = "created_at"
    actions = ["send_again"]

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("Send failed or skipped e-mails again"), permissions=["change"])
    def send_again(self, request, queryset):
        requeued = sum(
            services.requeue_email(email_id=email_id)
            for email_id in queryset.values_list("pk", flat=True)
        )
        ignored = queryset.count() - requeued
        self.message_user(
            request,
            ngettext("%(count)d e-mail queued again.", "%(count)d e-mails queued again.", requeued)
            % {"count": requeued},
            messages.SUCCESS,
        )
        if ignored:
            self.message_user(
                request,
                ngettext(
                    "%(count)d e-mail was not failed or skipped and was left alone.",
                    "%(count)d e-mails were not failed or skipped and were left alone.",
                    ignored,
                )
                % {"count": ignored},
                messages.WARNING,
            )
