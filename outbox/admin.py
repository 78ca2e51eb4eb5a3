from django.contrib import admin, messages
from django.db.models.constants import LOOKUP_SEP
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from . import services
from .models import OutgoingEmail

# A ready-made body (allauth's mails) holds a password-reset or address-confirmation link:
# whoever reads it can take over the account, so the admin never shows it.
SECRET_FIELDS = ["body_text", "body_html"]


class ListedFiltersOnly:
    """A ModelAdmin mixin: the list filters only by its own filters (and date hierarchy).

    Django's admin otherwise accepts a filter on any field of the model in the query string,
    hidden ones included, so that `?body_text__contains=reset/key/1-s` answers, a character
    at a time, what the page never shows. `extra_filter_fields` names more fields that
    links of ours filter by."""

    extra_filter_fields: tuple[str, ...] = ()

    def lookup_allowed(self, lookup, value, request=None):
        allowed = set(self.extra_filter_fields)
        if self.date_hierarchy:
            allowed.add(self.date_hierarchy.split(LOOKUP_SEP)[0])
        list_filter = self.get_list_filter(request) if request is not None else self.list_filter
        for item in list_filter:
            if isinstance(item, type) and issubclass(item, admin.SimpleListFilter):
                allowed.add(item.parameter_name)
            else:
                allowed.add(
                    (item[0] if isinstance(item, list | tuple) else item).split(LOOKUP_SEP)[0]
                )
        if lookup.split(LOOKUP_SEP)[0] not in allowed:
            return False
        return super().lookup_allowed(lookup, value, request)


class KindFilter(admin.SimpleListFilter):
    """The kinds of message by the names staff know them by."""

    title = _("kind")
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        kinds = OutgoingEmail.objects.order_by().values_list("kind", flat=True).distinct()
        return sorted(((kind, services.kind_label(kind)) for kind in kinds), key=lambda k: k[1])

    def queryset(self, request, queryset):
        return queryset.filter(kind=self.value()) if self.value() else queryset


# The row's link to what it is about replaces the raw content type and id.
HIDDEN_FIELDS = [*SECRET_FIELDS, "content_type", "object_id", "kind"]


@admin.register(OutgoingEmail)
class OutgoingEmailAdmin(ListedFiltersOnly, admin.ModelAdmin):
    list_display = [
        "kind_display",
        "recipient",
        "status",
        "attempts",
        "error_display",
        "created_at",
        "sent_at",
    ]
    list_filter = ["status", KindFilter]
    list_select_related = ["content_type"]
    search_fields = ["recipient", "dedup_key"]
    exclude = HIDDEN_FIELDS
    readonly_fields = [
        "kind_display",
        "about_link",
        *(f.name for f in OutgoingEmail._meta.fields if f.name not in HIDDEN_FIELDS),
    ]
    date_hierarchy = "created_at"
    actions = ["send_again"]

    def has_add_permission(self, request):
        return False

    @admin.display(description=_("kind"), ordering="kind")
    def kind_display(self, email: OutgoingEmail) -> str:
        return services.kind_label(email.kind)

    @admin.display(description=_("last error"))
    def error_display(self, email: OutgoingEmail) -> str:
        return Truncator(email.last_error).chars(80) if email.last_error else ""

    @admin.display(description=_("about"))
    def about_link(self, email: OutgoingEmail) -> str:
        """A link to the back-office page of what the e-mail is about (a registration, say),
        whatever app it belongs to."""
        if email.content_type_id is None or email.object_id is None:
            return "–"
        content_type = email.content_type
        try:
            url = reverse(
                f"admin:{content_type.app_label}_{content_type.model}_change",
                args=[email.object_id],
            )
        except NoReverseMatch:
            return f"{content_type.name} {email.object_id}"
        label = gettext("%(what)s %(id)s") % {"what": content_type.name, "id": email.object_id}
        return format_html('<a href="{}">{}</a>', url, label)

    @admin.action(description=_("Send failed or skipped e-mails again"), permissions=["change"])
    def send_again(self, request, queryset):
        requeued = sum(
            services.requeue_email(email_id=email_id)
            for email_id in queryset.values_list("pk", flat=True)
        )
        ignored = queryset.count() - requeued
        if requeued:
            self.message_user(
                request,
                ngettext(
                    "%(count)d e-mail queued again.", "%(count)d e-mails queued again.", requeued
                )
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
