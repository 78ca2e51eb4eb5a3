"""How registration for an event is going: the figures and their charts, drawn server-side.

The charts are plain SVG strings built here (no plotting library, no JavaScript), so the
admin page stays fast and works in any browser; every chart comes with its figures as a table
in the template for people who cannot see it.
"""

import datetime
import math
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils.formats import date_format
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from .models import AdmissionCategory, Registration

BAR_COLOUR = "#0b5c78"
SECOND_COLOUR = "#b36b00"
INK = "#1c2430"
GRID = "#d5dce4"


@dataclass(frozen=True)
class DayCount:
    day: datetime.date
    registrations: int
    cumulative: int


@dataclass(frozen=True)
class CategoryCount:
    category: str
    label: str
    confirmed: int
    waitlisted: int

    @property
    def active(self) -> int:
        return self.confirmed + self.waitlisted


@dataclass(frozen=True)
class RegistrationReport:
    per_day: list[DayCount]
    by_category: list[CategoryCount]

    @property
    def total(self) -> int:
        return self.per_day[-1].cumulative if self.per_day else 0


def registration_report(*, event_id: int) -> RegistrationReport:
    """Registrations of one event per day (by the day they were made, in Copenhagen time,
    every registration counted including later cancellations, days without any filled with
    zero) and active registrations per admission category. Two queries."""
    local_zone = ZoneInfo(settings.TIME_ZONE)
    rows = (
        Registration.objects.filter(event_id=event_id)
        .annotate(day=TruncDate("created_at", tzinfo=local_zone))
        .values("day")
        .annotate(count=Count("id"))
        .order_by("day")
    )
    counts = {row["day"]: row["count"] for row in rows}
    per_day: list[DayCount] = []
    if counts:
        day, last_day, cumulative = min(counts), max(counts), 0
        while day <= last_day:
            cumulative += counts.get(day, 0)
            per_day.append(
                DayCount(day=day, registrations=counts.get(day, 0), cumulative=cumulative)
            )
            day += datetime.timedelta(days=1)

    category_rows = (
        Registration.objects.filter(event_id=event_id)
        .values("category")
        .annotate(
            confirmed=Count("id", filter=Q(status=Registration.Status.CONFIRMED)),
            waitlisted=Count("id", filter=Q(status=Registration.Status.WAITLISTED)),
        )
    )
    by_value = {row["category"]: row for row in category_rows}
    by_category = [
        CategoryCount(
            category=value,
            label=str(label),
            confirmed=by_value.get(value, {}).get("confirmed", 0),
            waitlisted=by_value.get(value, {}).get("waitlisted", 0),
        )
        for value, label in AdmissionCategory.choices
    ]
    return RegistrationReport(per_day=per_day, by_category=by_category)


def nice_axis_maximum(value: int) -> int:
    """The smallest 'round' number (1, 2, 5 times a power of ten) at or above value."""
    if value <= 1:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude  # pragma: no cover - the loop always returns


def _svg_open(*, width: int, height: int, title: str, description: str, chart_id: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="100%" viewBox="0 0 {width} {height}" '
        f'style="max-width:{width}px" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" '
        f'font-family="system-ui, sans-serif" font-size="12">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>'
    )


def per_day_chart_svg(*, days: list[DayCount], chart_id: str = "per-day") -> SafeString:
    """Bar chart of registrations made per day."""
    width, height = 720, 260
    left, right, top, bottom = 48, 12, 16, 40
    plot_width, plot_height = width - left - right, height - top - bottom
    title = _("Registrations per day")
    if not days:
        description = _("No registrations yet.")
        return mark_safe(  # noqa: S308 - every interpolated text is escaped above
            _svg_open(
                width=width, height=80, title=title, description=description, chart_id=chart_id
            )
            + f'<text x="{left}" y="40" fill="{INK}">{escape(description)}</text></svg>'
        )
    # At least 2, so that the middle grid line is a whole number (1) and not a second "0".
    maximum = nice_axis_maximum(max(2, *(day.registrations for day in days)))
    description = _("%(total)d registrations from %(first)s to %(last)s.") % {
        "total": days[-1].cumulative,
        "first": date_format(days[0].day, "DATE_FORMAT"),
        "last": date_format(days[-1].day, "DATE_FORMAT"),
    }
    parts = [
        _svg_open(
            width=width, height=height, title=title, description=description, chart_id=chart_id
        )
    ]
    for fraction in (0, 0.5, 1):
        y = top + plot_height - fraction * plot_height
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{INK}">'
            f"{round(maximum * fraction)}</text>"
        )
    slot = plot_width / len(days)
    bar_width = max(slot * 0.8, 1)
    for index, day in enumerate(days):
        bar_height = plot_height * day.registrations / maximum
        x = left + index * slot + (slot - bar_width) / 2
        y = top + plot_height - bar_height
        label = f"{date_format(day.day, 'DATE_FORMAT')}: {day.registrations}"
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_width:.1f}" height="{bar_height:.1f}" '
            f'fill="{BAR_COLOUR}"><title>{escape(label)}</title></rect>'
        )
    # At most six date labels: a day and a month name written out in full ("28. september")
    # takes up to about 90 px, and six leave each at least 110.
    label_every = max(math.ceil(len(days) / 6), 1)
    half_label = 45
    for index in range(0, len(days), label_every):
        # Under its bar, but never cut off at either edge of the chart.
        x = min(max(left + index * slot + slot / 2, half_label), width - half_label)
        parts.append(
            f'<text x="{x:.1f}" y="{height - bottom + 16}" text-anchor="middle" fill="{INK}">'
            f"{escape(date_format(days[index].day, 'MONTH_DAY_FORMAT'))}</text>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated text is escaped


def category_chart_svg(
    *, categories: list[CategoryCount], chart_id: str = "by-category"
) -> SafeString:
    """Horizontal stacked bars of confirmed and wait-listed registrations per category."""
    width, row_height, right, top = 720, 34, 60, 30
    # Room for the longest category name ("Anställd vid medlemsuniversitet"), at roughly 7 px
    # a character: SVG text does not wrap, and a fixed margin cut the longer translations off.
    longest = max((len(item.label) for item in categories), default=0)
    left = min(max(120, 7 * longest + 16), 320)
    height = top + row_height * len(categories) + 10
    plot_width = width - left - right
    title = _("Active registrations by admission category")
    description = "; ".join(
        _("%(category)s: %(confirmed)d confirmed, %(waitlisted)d wait-listed")
        % {"category": item.label, "confirmed": item.confirmed, "waitlisted": item.waitlisted}
        for item in categories
    )
    maximum = nice_axis_maximum(max((item.active for item in categories), default=0))
    parts = [
        _svg_open(
            width=width, height=height, title=title, description=description, chart_id=chart_id
        ),
        f'<rect x="{left}" y="6" width="12" height="12" fill="{BAR_COLOUR}"/>'
        f'<text x="{left + 18}" y="16" fill="{INK}">{escape(_("Confirmed"))}</text>'
        f'<rect x="{left + 110}" y="6" width="12" height="12" fill="{SECOND_COLOUR}"/>'
        f'<text x="{left + 128}" y="16" fill="{INK}">{escape(_("Wait-listed"))}</text>',
    ]
    for index, item in enumerate(categories):
        y = top + index * row_height
        confirmed_width = plot_width * item.confirmed / maximum
        waitlisted_width = plot_width * item.waitlisted / maximum
        parts.append(
            f'<text x="{left - 8}" y="{y + 17}" text-anchor="end" fill="{INK}">'
            f"{escape(item.label)}</text>"
            f'<rect x="{left}" y="{y + 4}" width="{confirmed_width:.1f}" height="20" '
            f'fill="{BAR_COLOUR}"/>'
            f'<rect x="{left + confirmed_width:.1f}" y="{y + 4}" width="{waitlisted_width:.1f}" '
            f'height="20" fill="{SECOND_COLOUR}"/>'
            f'<text x="{left + confirmed_width + waitlisted_width + 6:.1f}" y="{y + 18}" '
            f'fill="{INK}">{item.active}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated text is escaped
