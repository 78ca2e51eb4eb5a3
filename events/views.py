from django.shortcuts import get_object_or_404, render

from .models import Event, Registration


def event_list(request):
    events = Event.objects.published().upcoming().select_related("network")
    return render(request, "events/event_list.html", {"events": events})


def event_detail(request, slug):
    event = get_object_or_404(Event.objects.published(), slug=slug)
    return render(request, "events/event_detail.html", {"event": event})


def registration_detail(request, ticket_code):
    registration = get_object_or_404(Registration, ticket_code=ticket_code, user_id=request.user.pk)
    return render(request, "events/registration_detail.html", {"registration": registration})


def my_registrations(request):
    registrations = Registration.objects.filter(user_id=request.user.pk).select_related("event")
    return render(request, "events/my_registrations.html", {"registrations": registrations})
