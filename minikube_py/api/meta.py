"""Small helpers for object metadata: times, uids, generated names, ages, owners.

Kubernetes writes times in UTC as RFC 3339 strings: "2026-01-02T03:04:05Z" for
ordinary timestamps (creationTimestamp, ...) and with microseconds,
"2026-01-02T03:04:05.123456Z", for MicroTime fields such as a Lease's renewTime.
"""
import random
import uuid
from datetime import datetime, timezone

__all__ = ["now_rfc3339", "now_micro", "new_uid", "generate_name", "parse_time",
           "human_duration", "age", "owner_of"]

# Consonants and digits only, so generated names never spell words (Kubernetes' choice).
NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
RANDOM_LENGTH = 5
MAX_NAME_LENGTH = 63


def now_rfc3339() -> str:
    """Now, to the second: "2026-01-02T03:04:05Z"."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_micro() -> str:
    """Now, to the microsecond (a MicroTime): "2026-01-02T03:04:05.123456Z"."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_uid() -> str:
    """A random UUID for metadata.uid."""
    return str(uuid.uuid4())


def generate_name(prefix: str) -> str:
    """metadata.generateName: the prefix plus 5 random characters ("web-" -> "web-x7k2p").

    A long prefix is cut so that the whole name still fits in 63 characters.
    """
    prefix = prefix[:MAX_NAME_LENGTH - RANDOM_LENGTH]
    return prefix + "".join(random.choice(NAME_ALPHABET) for _ in range(RANDOM_LENGTH))


def parse_time(s: str) -> datetime:
    """An RFC 3339 string (with "Z" or an offset, with or without fractions) as an
    aware datetime in UTC."""
    if not isinstance(s, str) or not s:
        raise ValueError(f"not an RFC 3339 time: {s!r}")
    text = s.strip()
    if text[-1] in "Zz":
        text = text[:-1] + "+00:00"
    if "." in text:  # fromisoformat in 3.11 accepts only 3 or 6 fraction digits: pad or cut to 6
        head, rest = text.split(".", 1)
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[:digits][:6].ljust(6, '0')}{rest[digits:]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an RFC 3339 time: {s!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def human_duration(seconds: float) -> str:
    """kubectl's short form of a duration, about 2-3 significant figures.

    The rules of HumanDuration in k8s.io/apimachinery/pkg/util/duration:
    seconds up to 2 minutes ("90s"), minutes and seconds up to 10 minutes ("3m2s"),
    minutes up to 3 hours ("95m"), hours and minutes up to 8 hours ("5h30m"), hours
    up to 2 days ("30h"), days and hours up to 8 days ("3d4h"), days up to 2 years
    ("400d"), years and days up to 8 years ("2y10d"), then years ("9y").
    A small negative value (clock skew) reads "0s"; a larger one "<invalid>".
    """
    seconds = int(seconds)        # truncates towards zero, as Go's int(d.Seconds())
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"

    def two_units(big: int, big_unit: str, small: int, small_unit: str) -> str:
        return f"{big}{big_unit}" if small == 0 else f"{big}{big_unit}{small}{small_unit}"

    minutes, hours = seconds // 60, seconds // 3600
    days, years = hours // 24, hours // (24 * 365)
    if seconds < 2 * 60:
        return f"{seconds}s"
    if minutes < 10:
        return two_units(minutes, "m", seconds % 60, "s")
    if minutes < 3 * 60:
        return f"{minutes}m"
    if hours < 8:
        return two_units(hours, "h", minutes % 60, "m")
    if hours < 48:
        return f"{hours}h"
    if hours < 8 * 24:
        return two_units(days, "d", hours % 24, "h")
    if hours < 2 * 365 * 24:
        return f"{days}d"
    if hours < 8 * 365 * 24:
        return two_units(years, "y", days % 365, "d")
    return f"{years}y"


def age(ts, now: datetime | None = None) -> str:
    """How long ago `ts` (an RFC 3339 string or a datetime) was, as kubectl's AGE column
    shows it: "5s", "3m2s", "10m", "5h", "3d", "2y". A missing time is "<unknown>"."""
    if not ts:
        return "<unknown>"
    then = parse_time(ts) if isinstance(ts, str) else ts
    if then.tzinfo is None:
        then = then.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    return human_duration((now - then).total_seconds())


def owner_of(obj: dict, kind: str | None = None) -> dict | None:
    """The ownerReference of `obj` that names its owner, or None.

    Without `kind`: the controller's reference (the one with controller: true).
    With `kind`: a reference to an owner of that kind, the controller one first;
    owner_of(pod, "ReplicaSet") tells which ReplicaSet manages a pod, and
    owner_of(lease, "Node") finds a node Lease's Node (not marked controller).
    """
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    if kind is not None:
        refs = [ref for ref in refs if ref.get("kind") == kind]
    controllers = [ref for ref in refs if ref.get("controller")]
    if controllers:
        return controllers[0]
    return refs[0] if refs and kind is not None else None
