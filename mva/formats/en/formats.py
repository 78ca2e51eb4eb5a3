# Dates as attendees read them on pages and in e-mails: the weekday matters for an event.
DATE_FORMAT = "j F Y"
DATETIME_FORMAT = "l j F Y, H:i"
MONTH_DAY_FORMAT = "j F"
TIME_FORMAT = "H:i"
# Django's English defaults are American ("11/28/2026"); short dates here are unambiguous.
SHORT_DATE_FORMAT = "j M Y"
SHORT_DATETIME_FORMAT = "j M Y, H:i"
