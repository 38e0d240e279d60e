"""Cron schedules as a CronJob's `spec.schedule` writes them.

Kubernetes parses schedules with robfig/cron's standard parser: five fields
(minute hour day-of-month month day-of-week), each a comma-separated list of
`*`, `?`, `N`, `N-M`, with an optional `/step`; month and weekday names (JAN,
mon); or one of the descriptors @yearly @annually @monthly @weekly @daily
@midnight @hourly and `@every <duration>`. A schedule the apiserver accepts must
parse here, and the error messages are that parser's, so a 422 reads as it would
on a real cluster. (croniter and similar libraries accept more than Kubernetes
does -- seconds fields, L, W, # -- so they cannot say what is valid here.)

`parse` returns the set of allowed values of each field; `Schedule` adds what the
CronJob controller needs: the times a schedule fires, in a time zone.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, tzinfo
from typing import Iterator, Optional

__all__ = ["CronError", "Schedule", "parse", "parse_duration"]

# field name, minimum, maximum, names
FIELDS = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, {m: i + 1 for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}),
    ("day of week", 0, 6, {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}),
)

DESCRIPTORS = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}
# Go's time.ParseDuration: a sequence of decimal numbers with units
_DURATION = re.compile(r"(?:[0-9]*\.?[0-9]+(?:ns|us|µs|ms|s|m|h))+")


class CronError(ValueError):
    """Not a schedule Kubernetes accepts; str() is robfig/cron's message."""


def parse(schedule: str):
    """The allowed values of each of the five fields (sets), or ("every", "<duration>")."""
    if not isinstance(schedule, str) or not schedule.strip():
        raise CronError("empty spec string")
    spec = schedule.strip()
    if spec.startswith(("TZ=", "CRON_TZ=")):      # a time zone prefix: the parser accepts it
        _, _, spec = spec.partition(" ")
        spec = spec.strip()
    if spec.startswith("@"):
        if spec.startswith("@every "):
            duration = spec[len("@every "):].strip()
            if not _DURATION.fullmatch(duration):
                raise CronError(f"failed to parse duration {spec}: time: invalid duration "
                                f'"{duration}"')
            return ("every", duration)
        if spec not in DESCRIPTORS:
            raise CronError(f"unrecognized descriptor: {spec}")
        spec = DESCRIPTORS[spec]
    fields = spec.split()
    if len(fields) != 5:
        raise CronError(f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]")
    return tuple(_field(text, *bounds[1:]) for text, bounds in zip(fields, FIELDS))


def _field(text: str, low: int, high: int, names: dict) -> set:
    values: set = set()
    for expr in text.split(","):
        values |= _range(expr, low, high, names)
    return values


def _range(expr: str, low: int, high: int, names: dict) -> set:
    range_and_step = expr.split("/")
    if len(range_and_step) > 2:
        raise CronError(f"too many slashes: {expr}")
    low_and_high = range_and_step[0].split("-")
    if len(low_and_high) > 2:
        raise CronError(f"too many hyphens: {expr}")
    if low_and_high[0] in ("*", "?"):
        start, end = low, high
    else:
        start = _number(low_and_high[0], names)
        end = _number(low_and_high[1], names) if len(low_and_high) == 2 else start
    step = 1
    if len(range_and_step) == 2:
        step = _number(range_and_step[1], {})
        if len(low_and_high) == 1 and low_and_high[0] not in ("*", "?"):
            end = high                           # "N/step" means N-max/step
    if start < low:
        raise CronError(f"beginning of range ({start}) below minimum ({low}): {expr}")
    if end > high:
        raise CronError(f"end of range ({end}) above maximum ({high}): {expr}")
    if start > end:
        raise CronError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise CronError(f"step of range should be a positive number: {expr}")
    return set(range(start, end + 1, step))


def _number(text: str, names: dict) -> int:
    if text.lower() in names:
        return names[text.lower()]
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise CronError(f'failed to parse int from {text}: strconv.Atoi: parsing "{text}": invalid syntax')
    number = int(text)
    if number < 0:
        raise CronError(f"negative number ({number}) not allowed: {text}")
    return number


def parse_duration(text: str) -> timedelta:
    """Go's time.ParseDuration for what ``@every`` takes ("1h30m", "90s", "1.5h")."""
    units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
    seconds = sum(float(n) * units[u] for n, u in re.findall(r"([0-9]*\.?[0-9]+)(ns|us|µs|ms|s|m|h)", text))
    return timedelta(seconds=seconds)


class Schedule:
    """When a schedule fires, as robfig/cron's SpecSchedule.Next decides it.

    The fields are matched on the wall clock of ``tz``. Day of month and day of week
    combine as in cron: when both are restricted a day matching *either* fires
    ("0 0 1 * mon": the first of the month and every Monday); when one is ``*`` (or
    ``?``) only the other counts.
    """

    def __init__(self, spec: str, tz: Optional[tzinfo] = None):
        self.tz = tz
        text = spec.strip()
        if text.startswith(("TZ=", "CRON_TZ=")):
            from zoneinfo import ZoneInfo
            name, _, text = text.partition(" ")
            self.tz = ZoneInfo(name.split("=", 1)[1])
            text = text.strip()
        parsed = parse(text)
        self.every = parse_duration(parsed[1]) if parsed[0] == "every" else None
        if self.every is not None:
            self.every = max(self.every, timedelta(seconds=1))
            return
        self.minutes, self.hours, self.days, self.months, self.weekdays = parsed
        fields = DESCRIPTORS.get(text, text).split()
        self.dom_star = _is_star(fields[2])
        self.dow_star = _is_star(fields[4])

    def _day_matches(self, t: datetime) -> bool:
        dom = t.day in self.days
        dow = (t.weekday() + 1) % 7 in self.weekdays      # cron: 0 is Sunday
        if self.dom_star or self.dow_star:
            return dom and dow
        return dom or dow

    def next(self, after: datetime) -> Optional[datetime]:
        """The first time strictly after ``after`` that the schedule fires (None: never, e.g. Feb 30)."""
        if self.every is not None:     # robfig: from the whole second after "after"
            return after.replace(microsecond=0) + self.every
        tz = self.tz or after.tzinfo
        t = after.astimezone(tz).replace(tzinfo=None, second=0, microsecond=0) + timedelta(minutes=1)
        limit = t.year + 5
        while t.year <= limit:
            if t.month not in self.months:
                t = (t.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
            elif not self._day_matches(t):
                t = t.replace(hour=0, minute=0) + timedelta(days=1)
            elif t.hour not in self.hours:
                t = t.replace(minute=0) + timedelta(hours=1)
            elif t.minute not in self.minutes:
                t += timedelta(minutes=1)
            else:
                return t.replace(tzinfo=tz)
        return None

    def times(self, after: datetime, until: datetime) -> Iterator[datetime]:
        """Every time it fires in (after, until]."""
        t = self.next(after)
        while t is not None and t <= until:
            yield t
            t = self.next(t)


def _is_star(field: str) -> bool:
    """robfig's star bit: the field is "*" or "?" without a step above 1."""
    range_and_step = field.split("/")
    if range_and_step[0] not in ("*", "?"):
        return False
    return len(range_and_step) == 1 or range_and_step[1] in ("0", "1")
