#!/usr/bin/env python3
"""Check a recorded client history against a replicated key/value cache.

The fault-injection harness records every client operation (set, get,
append, delete) with its start/end time on one monotonic clock and its
outcome, then, after all faults healed, the final value of every id (and
optionally what each replica holds).  This module verifies four properties:

  (a) no acknowledged write is lost (final state),
  (b) no stale read (and no read of the future, and no phantom value),
  (c) appends are applied exactly once, in per-client order, and replicas
      that hold data agree byte for byte,
  (d) a failed write never shadows: a failed set is not observed after a
      later acknowledged write ended, a failed append's token never appears.

Input: JSON lines, one object each:
  {"type":"op","client":"c1","op":"set|get|append|delete","id":"k3",
   "value":"..." (set/append),"start":1.0,"end":1.1,"ok":true|false|null,
   "result":"..."|null (successful get)}
  {"type":"final","id":"k3","value":"..."|null,"replicas":{"w1":"..."|null}}
  {"type":"fault","at":13.0,"what":"sigkill w2"}
Set and append values are unique; append values are "<client>-<n>;" tokens.
An id is an append id when appends were seen on it, else a set/delete id.
Cost: near-linear.  An append content that repeats, shortens or extends one
examined lately costs only its new tokens (ContentLog), so a 60 s, 4-client
fault run checks in seconds (docs/performance.md); one that diverges from
every recent content (a violation, mostly) is scanned in full.

Usage:  history_checker.py [--json] HISTORY.jsonl|-
Exit:   0 no violation, 1 violations found, 2 unreadable input.

Python API:  check(records: list[dict]) -> Report  (raises HistoryError on
malformed records); Report.counts is a dict, Report.violations a list of
dicts with at least the keys "property", "id" and "detail".
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import json
import math
import sys
from dataclasses import dataclass, field
from typing import IO, Iterable, Optional

NEG_INF = -math.inf
OPS = ("set", "get", "append", "delete")
WRITE_OPS = ("set", "delete")
OUTCOME = {True: "acked", False: "failed", None: "indeterminate"}
MAX_VIOLATION_LINES = 20
SHORT_VALUE = 60


class HistoryError(ValueError):
    """The history cannot be checked: a record is malformed or inconsistent.

    The message names the offending record ("line N" for the CLI,
    "record N" for the API, 1-based) and the problem.
    """


# --------------------------------------------------------------------------
# Records


@dataclass(frozen=True)
class Op:
    """One client operation.  ok: True acked, False failed, None unknown."""

    client: str
    op: str
    id: str
    start: float
    end: float
    ok: Optional[bool]
    value: Optional[str] = None   # set/append payload
    result: Optional[str] = None  # get result (None = not found)
    where: str = ""


@dataclass(frozen=True)
class Final:
    """The settled value of one id, and optionally each replica's bytes."""

    id: str
    value: Optional[str]
    replicas: Optional[dict]
    where: str = ""


@dataclass(frozen=True)
class Fault:
    """An injected fault (informational only)."""

    at: float
    what: str
    where: str = ""


# The initial "absent" state of every id: a write that ended at -infinity.
INITIAL = Op(client="", op="initial", id="", start=NEG_INF, end=NEG_INF, ok=None)


def _require(rec: dict, key: str, where: str):
    if key not in rec:
        raise HistoryError(f"{where}: missing field {key!r}")
    return rec[key]


def _string(rec: dict, key: str, where: str, nullable: bool = False) -> Optional[str]:
    value = _require(rec, key, where)
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        kind = "a string or null" if nullable else "a string"
        raise HistoryError(f"{where}: field {key!r} must be {kind}, got {value!r}")
    return value


def _number(rec: dict, key: str, where: str) -> float:
    value = _require(rec, key, where)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise HistoryError(f"{where}: field {key!r} must be a finite number, got {value!r}")
    return float(value)


def parse_token(token: str) -> Optional[tuple[str, int]]:
    """Split an append token "<client>-<n>;" into (client, n); None if malformed."""
    if not token.endswith(";") or token.count(";") != 1:
        return None
    client, sep, number = token[:-1].rpartition("-")
    if not sep or not client or not number.isdigit():
        return None
    return client, int(number)


def _parse_op(rec: dict, where: str) -> Op:
    op = _string(rec, "op", where)
    if op not in OPS:
        raise HistoryError(f"{where}: unknown op {op!r} (expected one of {', '.join(OPS)})")
    ok = _require(rec, "ok", where)
    if ok is not True and ok is not False and ok is not None:
        raise HistoryError(f"{where}: field 'ok' must be true, false or null, got {ok!r}")
    start, end = _number(rec, "start", where), _number(rec, "end", where)
    if end < start:
        raise HistoryError(f"{where}: end {end} is before start {start}")
    value = result = None
    if op in ("set", "append"):
        value = _string(rec, "value", where)
        if op == "append" and parse_token(value) is None:
            raise HistoryError(f"{where}: append value {value!r} is not a '<client>-<n>;' token")
    if op == "get" and ok is True:
        result = _string(rec, "result", where, nullable=True)
    return Op(client=_string(rec, "client", where), op=op, id=_string(rec, "id", where),
              start=start, end=end, ok=ok, value=value, result=result, where=where)


def _parse_final(rec: dict, where: str) -> Final:
    replicas = rec.get("replicas")
    if replicas is not None:
        if not isinstance(replicas, dict):
            raise HistoryError(f"{where}: field 'replicas' must be an object")
        for name, data in replicas.items():
            if data is not None and not isinstance(data, str):
                raise HistoryError(f"{where}: replica {name!r} must be a string or null")
    return Final(id=_string(rec, "id", where), value=_string(rec, "value", where, nullable=True),
                 replicas=replicas, where=where)


def _parse_fault(rec: dict, where: str) -> Fault:
    return Fault(at=_number(rec, "at", where), what=_string(rec, "what", where), where=where)


_PARSERS = {"op": _parse_op, "final": _parse_final, "fault": _parse_fault}


def validate_record(rec, where: str):
    """Turn one decoded JSON record into an Op, Final or Fault.

    Raises HistoryError naming `where` when the record is not an object,
    has an unknown "type", or lacks / mistypes a required field.
    """
    if not isinstance(rec, dict):
        raise HistoryError(f"{where}: record is not a JSON object")
    kind = _require(rec, "type", where)
    parser = _PARSERS.get(kind) if isinstance(kind, str) else None
    if parser is None:
        raise HistoryError(f"{where}: unknown record type {kind!r}")
    return parser(rec, where)


def read_jsonl(stream: IO[str]) -> list:
    """Decode and validate a JSON-lines stream; blank lines are skipped.

    Returns Op/Final/Fault objects; raises HistoryError naming the line.
    """
    parsed = []
    for lineno, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        where = f"line {lineno}"
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise HistoryError(f"{where}: not valid JSON ({exc.msg})") from None
        parsed.append(validate_record(rec, where))
    return parsed


# --------------------------------------------------------------------------
# Report


def short(value: Optional[str]) -> str:
    """Render a value for humans: repr, cut to SHORT_VALUE characters."""
    if value is None:
        return "null"
    text = value if len(value) <= SHORT_VALUE else value[: SHORT_VALUE - 3] + "..."
    return repr(text)


def _span(op: Op) -> str:
    if op is INITIAL:
        return "initial-absent"
    what = f"{op.op} {short(op.value)}" if op.value is not None else op.op
    return f"{what} by {op.client} [{op.start:.6f}, {op.end:.6f}] {OUTCOME[op.ok]}"


@dataclass
class Report:
    """Result of check(): counts (dict) and violations (list of dicts)."""

    counts: dict = field(default_factory=dict)
    violations: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def add(self, prop: str, kind: str, id_: str, detail: str, *, client: Optional[str] = None,
            start: Optional[float] = None, end: Optional[float] = None,
            value: Optional[str] = None) -> None:
        """Record one violation of property prop ("a".."d")."""
        self.violations.append({"property": prop, "kind": kind, "id": id_, "client": client,
                                "start": start, "end": end, "value": value, "detail": detail})
        self.counts["violations"][prop] += 1

    def violate_read(self, prop: str, kind: str, read: Op, detail: str) -> None:
        observed = _observed(read, read.result)
        self.add(prop, kind, read.id, f"{observed}: {detail}", client=read.client,
                 start=read.start, end=read.end, value=read.result)

    def violate_final(self, prop: str, kind: str, final: Final, detail: str) -> None:
        self.add(prop, kind, final.id, f"final value {short(final.value)}: {detail}",
                 value=final.value)


def _observed(read: Op, value: Optional[str]) -> str:
    return f"get by {read.client} [{read.start:.6f}, {read.end:.6f}] returned {short(value)}"


def _new_counts() -> dict:
    return {
        "records": 0,
        "operations": 0,
        "ops": {op: {"acked": 0, "failed": 0, "indeterminate": 0} for op in OPS},
        "by_ok": {"acked": 0, "failed": 0, "indeterminate": 0},
        "reads_checked": 0,
        "finals_checked": 0,
        "ids_checked": 0,
        "faults": 0,
        "replica_missing": 0,
        "violations": {"a": 0, "b": 0, "c": 0, "d": 0},
    }


# --------------------------------------------------------------------------
# Register ids (set / delete / get)


class RegisterIndex:
    """Sorted views of one id's sets and deletes answering the supersede queries.

    Write w2 supersedes w1 when w2 is acknowledged and w2.start > w1.end.
    """

    def __init__(self, writes: list[Op]) -> None:
        self.by_value = {w.value: w for w in writes if w.op == "set"}
        acked = sorted((w for w in writes if w.ok is True), key=lambda w: w.end)
        self.acked_ends = [w.end for w in acked]
        self.acked_latest_start = _running_max(acked, key=lambda w: w.start)
        self.top_acked = self.acked_latest_start[-1] if acked else None
        deletes = sorted((w for w in writes if w.op == "delete"), key=lambda w: w.start)
        self.delete_starts = [d.start for d in deletes]
        self.delete_latest_end = _running_max(deletes, key=lambda d: d.end)
        settled = [d for d in deletes if d.ok is not False]
        self.final_delete = max(settled, key=lambda d: d.end) if settled else None

    def superseder_before(self, t: float) -> Optional[Op]:
        """The acked write with the latest start among those that ended before t."""
        k = bisect.bisect_left(self.acked_ends, t)
        return self.acked_latest_start[k - 1] if k else None

    def delete_begun_before(self, t: float) -> Optional[Op]:
        """The delete with the latest end among those that started before t."""
        k = bisect.bisect_left(self.delete_starts, t)
        return self.delete_latest_end[k - 1] if k else None


def _running_max(items: list, key) -> list:
    """Prefix maxima of items by key: result[i] is the argmax over items[:i+1]."""
    best, out = None, []
    for item in items:
        if best is None or key(item) > key(best):
            best = item
        out.append(best)
    return out


def _check_register_read(index: RegisterIndex, read: Op, report: Report) -> None:
    """Rules (b) and (d) for one successful get of a set/delete id."""
    sup = index.superseder_before(read.start)
    if read.result is None:
        if sup is None:
            return  # the initial absent state is still current
        delete = index.delete_begun_before(read.end)
        if delete is None or delete.end < sup.start:
            report.violate_read("b", "stale-read", read,
                                f"not-found is superseded by {_span(sup)}")
        return
    write = index.by_value.get(read.result)
    if write is None:
        report.violate_read("b", "phantom-read", read, "no set ever wrote this value")
    elif write.start >= read.end:
        report.violate_read("b", "future-read", read,
                            f"the value's {_span(write)} began after the read ended")
    elif write.ok is False and sup is not None and sup.start > write.start:
        report.violate_read("d", "failed-set-observed", read,
                            f"value of {_span(write)} seen after {_span(sup)} ended")
    elif sup is not None and sup.start > write.end:
        report.violate_read("b", "stale-read", read,
                            f"the value's {_span(write)} is superseded by {_span(sup)}")


def _check_register_final(index: RegisterIndex, final: Final, report: Report) -> None:
    """Rules (a) and (d) for the settled value of a set/delete id.

    Allowed: the value of a set (or null of a delete) that was acked or
    indeterminate and that no acked write supersedes; null also when no
    write was ever acknowledged (the initial absent state).
    """
    top = index.top_acked
    if final.value is None:
        if top is None:
            return
        delete = index.final_delete
        if delete is None or delete.end < top.start:
            report.violate_final("a", "lost-write", final,
                                 f"acknowledged {_span(top)} is lost")
        return
    write = index.by_value.get(final.value)
    if write is None:
        report.violate_final("a", "phantom", final, "no set ever wrote this value")
    elif write.ok is False and top is not None and top.start > write.start:
        report.violate_final("d", "failed-set-observed", final,
                             f"value of {_span(write)} survives {_span(top)}")
    elif write.ok is False:
        report.violate_final("a", "failed-set-final", final,
                             f"written only by {_span(write)}")
    elif top is not None and top.start > write.end:
        report.violate_final("a", "lost-write", final,
                             f"it comes from {_span(write)}; acknowledged {_span(top)} is lost")


# --------------------------------------------------------------------------
# Append ids


class AppendIndex:
    """One append id's attempted tokens, its acked appends ordered by end, and
    the contents examined lately (ContentLog), so that a content seen again, a
    prefix of one already examined or an extension of one is never rescanned."""

    MAX_LOGS = 8  # contents that diverge (a fault's lost or reordered tokens) each need one

    def __init__(self, appends: list[Op]) -> None:
        self.by_token = {a.value: a for a in appends}
        self.parsed = {a.value: parse_token(a.value) for a in appends}
        acked = sorted((a for a in appends if a.ok is True), key=lambda a: a.end)
        self.acked_ends = [a.end for a in acked]
        self.acked_rank = {a.value: i for i, a in enumerate(acked)}
        self.acked_tokens = [a.value for a in acked]
        self.logs: list[ContentLog] = []  # least recently used first

    def acked_before(self, t: float) -> int:
        """How many appends were acknowledged (ended) before time t."""
        return bisect.bisect_left(self.acked_ends, t)

    def locate(self, content: str) -> tuple["ContentLog", int]:
        """A log whose first k tokens are exactly content's tokens, and k.

        Tries the most recently used logs: one that content is a token prefix
        of, then one that content extends (only the new tokens are examined);
        otherwise starts a new log, dropping the least recently used beyond
        MAX_LOGS.
        """
        recent = self.logs[::-1]
        hit = next(((log, k) for log in recent
                    if (k := log.prefix_tokens(content)) is not None), None)
        if hit is None:
            log = next((log for log in recent if log.extends_to(content)), None)
            if log is None:
                log = ContentLog(self)
                if len(self.logs) >= self.MAX_LOGS:
                    del self.logs[0]
            else:
                self.logs.remove(log)
            self.logs.append(log)
            log.extend(content)
            return log, log.count
        if hit[0] is not self.logs[-1]:
            self.logs.remove(hit[0])
            self.logs.append(hit[0])
        return hit


def split_tokens(content: Optional[str]) -> list[str]:
    """Split append content into ";"-terminated tokens (a trailing partial piece kept)."""
    if not content:
        return []
    pieces = content.split(";")
    tokens = [p + ";" for p in pieces[:-1]]
    if pieces[-1]:
        tokens.append(pieces[-1])
    return tokens


@dataclass
class ContentFindings:
    """What is wrong with one observed append content (each list: offending tokens)."""

    duplicated: list = field(default_factory=list)
    unknown: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    disordered: list = field(default_factory=list)  # clients whose n decreases
    missing: list = field(default_factory=list)
    future: list = field(default_factory=list)


class _Marks:
    """Items found at increasing token positions; those found before a position."""

    def __init__(self) -> None:
        self.positions: list[int] = []
        self.items: list = []
        self.seen: set = set()

    def mark(self, position: int, item) -> None:
        if item not in self.seen:
            self.seen.add(item)
            self.positions.append(position)
            self.items.append(item)

    def before(self, position: int) -> list:
        return self.items[: bisect.bisect_left(self.positions, position)]


class ContentLog:
    """One append content examined token by token, kept per position.

    Every finding is recorded at the position of the token that reveals it,
    and depends only on the tokens before that one, so the findings for the
    first k tokens are the ones recorded before position k: any token prefix
    of the content is answered without a rescan, and a longer content that
    extends it is examined only in its new tokens (extend).  What depends on
    the read's times is kept in a form that answers in O(log n) when nothing
    is wrong: the latest start among the first k tokens (future tokens) and,
    per acked rank r, the last position by which ranks 0..r are all present
    (missing tokens); a violation is then listed by a scan.
    """

    def __init__(self, index: AppendIndex) -> None:
        self.index = index
        self.text = ""
        self.count = 0                       # tokens examined
        self.ends = [0]                      # [k]: text offset after the first k tokens
        self.first: dict[str, int] = {}      # token -> position of its first occurrence
        self.last_n: dict[str, int] = {}     # client -> highest n so far
        self.duplicated, self.unknown, self.failed = _Marks(), _Marks(), _Marks()
        self.disordered = _Marks()
        self.latest_start = [NEG_INF]        # [k]: latest start among known tokens of the first k
        self.rank_position = [math.inf] * len(index.acked_tokens)
        self.complete_by: list[int] = []     # [r]: max position of acked ranks 0..r (all present)

    def prefix_tokens(self, content: str) -> Optional[int]:
        """k when content is exactly the first k tokens of this log, else None."""
        if len(content) <= len(self.text) and self.text.startswith(content):
            k = bisect.bisect_left(self.ends, len(content))
            return k if self.ends[k] == len(content) else None
        return None

    def extends_to(self, content: str) -> bool:
        """Whether content is this log's text followed by more tokens."""
        return (len(content) > len(self.text) and (not self.text or self.text.endswith(";"))
                and content.startswith(self.text))

    def extend(self, content: str) -> None:
        """Examine the tokens content adds to this log's text (see extends_to)."""
        index, first, last_n = self.index, self.first, self.last_n
        by_token, parsed, acked_rank = index.by_token, index.parsed, index.acked_rank
        position, offset = self.count, len(self.text)
        latest = self.latest_start[-1]
        for token in split_tokens(content[offset:]):
            offset += len(token)
            if token in first:
                self.duplicated.mark(position, token)
            else:
                first[token] = position
                append = by_token.get(token)
                if append is None:
                    self.unknown.mark(position, token)
                else:
                    if append.ok is False:
                        self.failed.mark(position, token)
                    if append.start > latest:
                        latest = append.start
                    rank = acked_rank.get(token)
                    if rank is not None:
                        self.rank_position[rank] = position
                    client, n = parsed[token]
                    prev = last_n.get(client)
                    if prev is None or n > prev:
                        last_n[client] = n
                    else:
                        self.disordered.mark(position, client)
            position += 1
            self.ends.append(offset)
            self.latest_start.append(latest)
        self.text, self.count = content, position
        ranks, complete = self.rank_position, self.complete_by
        best = complete[-1] if complete else -1
        while len(complete) < len(ranks) and ranks[len(complete)] != math.inf:
            best = max(best, ranks[len(complete)])
            complete.append(best)

    def findings(self, k: int, *, acked_cutoff: float, seen_before: float) -> ContentFindings:
        """The findings for the first k tokens (see examine_content)."""
        found = ContentFindings(duplicated=self.duplicated.before(k),
                                unknown=self.unknown.before(k), failed=self.failed.before(k),
                                disordered=self.disordered.before(k))
        if self.latest_start[k] >= seen_before:
            by_token = self.index.by_token
            found.future = [token for token, _ in itertools.takewhile(
                                lambda item: item[1] < k, self.first.items())
                            if token in by_token and by_token[token].start >= seen_before]
        need = self.index.acked_before(acked_cutoff)
        if need and not (need <= len(self.complete_by) and self.complete_by[need - 1] < k):
            tokens, ranks = self.index.acked_tokens, self.rank_position
            found.missing = [tokens[r] for r in range(need) if ranks[r] >= k]
        return found


def examine_content(index: AppendIndex, content: Optional[str], *, acked_cutoff: float,
                    seen_before: float) -> ContentFindings:
    """Inspect an append content observed at some time.

    acked_cutoff: every append acked (ended) before it must be present.
    seen_before:  a token whose append started at or after it is "future".
    Each token is examined once per log: see AppendIndex.locate, ContentLog.
    """
    log, k = index.locate(content or "")
    return log.findings(k, acked_cutoff=acked_cutoff, seen_before=seen_before)


def _tokens(tokens: list, limit: int = 5) -> str:
    shown = ", ".join(short(t) for t in tokens[:limit])
    return shown + (f" and {len(tokens) - limit} more" if len(tokens) > limit else "")


def _report_content(found: ContentFindings, emit, *, final: bool) -> None:
    """Map findings to properties; emit(prop, kind, detail) once per kind."""
    if found.unknown:
        emit("a" if final else "b", "phantom",
             f"token(s) never appended: {_tokens(found.unknown)}")
    if found.future:
        emit("b", "future-read", f"token(s) appended after the read ended: {_tokens(found.future)}")
    if found.missing:
        if final:
            emit("a", "lost-append", f"acknowledged append(s) missing: {_tokens(found.missing)}")
        else:
            emit("b", "stale-read",
                 f"append(s) acknowledged before the read are missing: {_tokens(found.missing)}")
    if found.duplicated:
        emit("c", "duplicate-token", f"token(s) applied twice: {_tokens(found.duplicated)}")
    if found.disordered:
        emit("c", "out-of-order", f"tokens of client(s) out of order: {', '.join(found.disordered)}")
    if found.failed:
        emit("d", "failed-append-applied", f"failed append(s) applied: {_tokens(found.failed)}")


def _check_append_read(index: AppendIndex, read: Op, report: Report) -> None:
    """Rules (b), (c), (d) for one successful get of an append id."""
    found = examine_content(index, read.result, acked_cutoff=read.start, seen_before=read.end)
    _report_content(found, lambda p, k, d: report.violate_read(p, k, read, d), final=False)


def _check_append_final(index: AppendIndex, final: Final, report: Report) -> None:
    """Rules (a), (c), (d) for the settled content of an append id."""
    found = examine_content(index, final.value, acked_cutoff=math.inf, seen_before=math.inf)
    _report_content(found, lambda p, k, d: report.violate_final(p, k, final, d), final=True)


# --------------------------------------------------------------------------
# Replicas and the driver


def _check_replicas(final: Final, report: Report) -> None:
    """(c): every replica holding data equals the final value; count missing ones."""
    if not final.replicas:
        return
    any_data = final.value is not None or any(v is not None for v in final.replicas.values())
    for name, data in sorted(final.replicas.items()):
        if data is None:
            if any_data:
                report.counts["replica_missing"] += 1
        elif data != final.value:
            report.violate_final("c", "replica-mismatch", final,
                                 f"replica {name} holds {short(data)}")


def _id_kind(id_: str, ops: list[Op]) -> str:
    """"append" or "register"; HistoryError if an id mixes append with set/delete."""
    append = next((o for o in ops if o.op == "append"), None)
    write = next((o for o in ops if o.op in WRITE_OPS), None)
    if append and write:
        raise HistoryError(f"{write.where}: id {id_!r} is used with {write.op} "
                           f"but also with append ({append.where})")
    return "append" if append else "register"


def _check_unique_values(ops: Iterable[Op]) -> None:
    seen = {}
    for op in ops:
        if op.value is None:
            continue
        if op.value in seen:
            raise HistoryError(f"{op.where}: value {short(op.value)} was already "
                               f"written at {seen[op.value]}; values must be unique")
        seen[op.value] = op.where


def _count(records: list, report: Report) -> None:
    counts = report.counts
    counts["records"] = len(records)
    for rec in records:
        if isinstance(rec, Op):
            counts["operations"] += 1
            counts["ops"][rec.op][OUTCOME[rec.ok]] += 1
            counts["by_ok"][OUTCOME[rec.ok]] += 1
            if rec.op == "get" and rec.ok is True:
                counts["reads_checked"] += 1
        elif isinstance(rec, Final):
            counts["finals_checked"] += 1
        else:
            counts["faults"] += 1


def check_parsed(records: list) -> Report:
    """Check already validated Op/Final/Fault objects (see read_jsonl)."""
    report = Report(counts=_new_counts())
    _count(records, report)
    ops = [r for r in records if isinstance(r, Op)]
    _check_unique_values(ops)
    ops_by_id: dict[str, list[Op]] = {}
    finals_by_id: dict[str, list[Final]] = {}
    for op in ops:
        ops_by_id.setdefault(op.id, []).append(op)
    for rec in records:
        if isinstance(rec, Final):
            finals_by_id.setdefault(rec.id, []).append(rec)
    ids = sorted(set(ops_by_id) | set(finals_by_id))
    report.counts["ids_checked"] = len(ids)
    for id_ in ids:
        _check_id(id_, ops_by_id.get(id_, []), finals_by_id.get(id_, []), report)
    return report


def _check_id(id_: str, ops: list[Op], finals: list[Final], report: Report) -> None:
    """Check every successful read and every final record of one id."""
    reads = sorted((o for o in ops if o.op == "get" and o.ok is True), key=lambda o: o.start)
    if _id_kind(id_, ops) == "append":
        index = AppendIndex([o for o in ops if o.op == "append"])
        check_read, check_final = _check_append_read, _check_append_final
    else:
        index = RegisterIndex([o for o in ops if o.op in WRITE_OPS])
        check_read, check_final = _check_register_read, _check_register_final
    for read in reads:
        check_read(index, read, report)
    for final in finals:
        check_final(index, final, report)
        _check_replicas(final, report)


def check(records: list[dict]) -> Report:
    """Check a history given as decoded JSON records (dicts).

    Raises HistoryError ("record N: ...", 1-based) on a malformed record.
    """
    parsed = [validate_record(rec, f"record {i}") for i, rec in enumerate(records, start=1)]
    return check_parsed(parsed)


# --------------------------------------------------------------------------
# CLI


def format_human(report: Report) -> str:
    """The default report: a table of counts, then up to 20 violations."""
    c = report.counts
    lines = [f"{'op':<8}{'acked':>10}{'failed':>10}{'indet':>10}{'total':>10}"]
    for op in OPS:
        row = c["ops"][op]
        lines.append(f"{op:<8}{row['acked']:>10}{row['failed']:>10}"
                     f"{row['indeterminate']:>10}{sum(row.values()):>10}")
    by_ok = c["by_ok"]
    lines.append(f"{'all':<8}{by_ok['acked']:>10}{by_ok['failed']:>10}"
                 f"{by_ok['indeterminate']:>10}{c['operations']:>10}")
    lines.append("")
    for label, key in (("reads checked", "reads_checked"), ("finals checked", "finals_checked"),
                       ("ids checked", "ids_checked"), ("faults", "faults"),
                       ("replica missing", "replica_missing")):
        lines.append(f"{label:<28}{c[key]:>8}")
    names = {"a": "(a) acked write lost", "b": "(b) stale read",
             "c": "(c) append/replica integrity", "d": "(d) failed write shadows"}
    for prop, label in names.items():
        lines.append(f"{label:<28}{c['violations'][prop]:>8}")
    total = len(report.violations)
    lines.append(f"RESULT: {'OK' if not total else f'{total} VIOLATION(S)'}")
    for v in report.violations[:MAX_VIOLATION_LINES]:
        lines.append(f"  ({v['property']}) {v['kind']} id={v['id']}: {v['detail']}")
    if total > MAX_VIOLATION_LINES:
        lines.append(f"  ... and {total - MAX_VIOLATION_LINES} more")
    return "\n".join(lines)


def _load(path: str) -> list:
    if path == "-":
        return read_jsonl(sys.stdin)
    try:
        with open(path, encoding="utf-8") as stream:
            return read_jsonl(stream)
    except (OSError, UnicodeDecodeError) as exc:
        raise HistoryError(f"{path}: cannot read ({exc})") from None


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("history", help="JSON-lines history file, or - for stdin")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    try:
        report = check_parsed(_load(args.history))
    except HistoryError as exc:
        print(f"history_checker: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"ok": report.ok, "counts": report.counts,
                          "violations": report.violations}))
    else:
        print(format_human(report))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
