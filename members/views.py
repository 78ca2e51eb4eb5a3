from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import render


def admin_login(request, extra_context=None):
    """Replaces the admin's own log-in form: anonymous visitors go through allauth's
    rate-limited log-in (with two-factor authentication), signed-in non-staff get a 403."""
    if request.user.is_authenticated:
        raise PermissionDenied
    return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)


@login_required
def affiliation(request):
    return render(request, "members/affiliation.html", {})
