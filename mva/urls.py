from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from events import privacy_views

# The admin signs in through allauth's rate-limited log-in, not Django's unprotected form.
admin.site.login = secure_admin_login(admin.site.login)
admin.site.site_header = "MVA Events"
admin.site.site_title = "MVA Events"
admin.site.index_title = _("Back office")

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("privacy/", privacy_views.privacy_notice, name="privacy"),
    path("", include("members.urls")),
    path("", include("events.urls")),
    path("", include("events.staff_urls")),
]
