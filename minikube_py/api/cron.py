"""Cron schedules as a CronJob's `spec.schedule` writes them.

Kubernetes parses schedules with robfig/cron's standard parser: five fields
(minute hour day-of-month month day-of-week), each a comma-separated list of
`*`, `?`, `N`, `N-M`, with an optional `/step`; month and weekday names (JAN,
mon); or one of the descriptors @yearly @annually @monthly @weekly @daily
@midnight @hourly and `@every <duration>`. A schedule the apiserver accepts must
parse here, and the error messages are that parser's, so a 422 reads as it would
on a real cluster. (croniter and similar libraries accept more than Kubernetes
does -- seconds fields, L, W, # -- so they cannot say what is valid here.)

`parse` returns the set of allowed values of each field, which is all a
scheduler needs to find the next run.
"""
from __future__ import annotations

import re

__all__ = ["CronError", "parse"]

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
