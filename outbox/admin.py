from django.contrib import admin

from .models import OutgoingEmail


@admin.register(OutgoingEmail)
class OutgoingEmailAdmin(admin.ModelAdmin):
    list_display = ["kind", "recipient", "status", "attempts", "created_at", "sent_at"]
    list_filter = ["status", "kind"]
    search_fields = ["recipient", "dedup_key"]
    readonly_fields = [f.name for f in OutgoingEmail._meta.fields]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False
