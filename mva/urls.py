from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from django.views.generic import RedirectView

from events import privacy_views
from members import views as members_views

# The admin signs in through allauth's rate-limited log-in, not Django's unprotected form.
admin.site.login = secure_admin_login(admin.site.login)
admin.site.site_header = "MVA Events"
admin.site.site_title = "MVA Events"
admin.site.index_title = _("Back office")

urlpatterns = [
    # Passwords change on allauth's page (rate limited, and it signs other sessions out).
    path(
        "admin/password_change/",
        RedirectView.as_view(pattern_name="account_change_password"),
        name="admin_password_change",
    ),
    path("admin/", admin.site.urls),
    # allauth's e-mail page, saying when it skipped sending a link (members.views).
    path("accounts/email/", members_views.email_addresses, name="account_email"),
    path(
        "accounts/email/remove/",
        members_views.confirm_email_removal,
        name="confirm_email_removal",
    ),
    path("accounts/", include("allauth.urls")),
    # Django's switcher, remembering a signed-in person's choice (members.views).
    path("i18n/setlang/", members_views.set_language, name="set_language"),
    path("privacy/", privacy_views.privacy_notice, name="privacy"),
    path("", include("members.urls")),
    path("", include("events.urls")),
    path("", include("events.staff_urls")),
]
