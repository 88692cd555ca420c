"""Shared state of consul-test-agent (TEST EQUIPMENT, not a Consul).

One State holds the catalog, KV store, sessions and coordinates that every
agent node of one consul-test-agent process shares. All access happens under
State.cond; writes bump a Raft-like global index and wake blocked queries.
"""
import base64
import json
import re
import threading
import time
import uuid

MAX_VALUE_BYTES = 512 * 1024
SESSION_TTL_MAX = 86400.0
DIMENSIONALITY = 8
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


class HttpError(Exception):
    """An error answer: HTTP status and Consul-style plain-text body."""

    def __init__(self, status, text):
        super().__init__(text)
        self.status = status
        self.text = text


class GoObject(dict):
    """A JSON object read the way Go's encoding/json fills a struct from it.

    Consul decodes request bodies into Go structs, and Go matches a JSON key
    to a struct field without regard to case ("name", "NAME" and "Name" all
    set Name); when several keys fold to the same field, the last one in the
    object wins. get(), [] and `in` look fields up that way. Iterating yields
    the keys as sent, so a map-typed field (Meta) keeps its keys: copy it
    with dict() before storing it.
    """

    def __init__(self, pairs=()):
        super().__init__(pairs)
        self._folded = {}
        for k, v in pairs:
            self._folded[k.lower()] = v  # later keys win, as in Go

    def get(self, name, default=None):
        return self._folded.get(name.lower(), default)

    def __getitem__(self, name):
        try:
            return self._folded[name.lower()]
        except KeyError:
            raise KeyError(name) from None

    def __contains__(self, name):
        return isinstance(name, str) and name.lower() in self._folded


def parse_json_body(body):
    """Request body -> value with every object a GoObject. ValueError if not JSON."""
    return json.loads(body, object_pairs_hook=GoObject)


def parse_duration(text):
    """Go time.ParseDuration subset -> seconds. Raises ValueError."""
    if isinstance(text, (int, float)):
        return float(text) / 1e9  # JSON numbers are nanoseconds in Consul
    text = text.strip()
    if text in ("", "0"):
        return 0.0
    pos, total = 0, 0.0
    while pos < len(text):
        m = _DURATION_PART.match(text, pos)
        if not m:
            raise ValueError("invalid duration %r" % text)
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    return total


def format_duration(seconds):
    if seconds == int(seconds):
        return "%ds" % int(seconds)
    return "%gms" % (seconds * 1000)


def _check_view(c):
    return {k: v for k, v in c.items() if not k.startswith("_")}


class State:
    def __init__(self, nodes, session_ttl_min):
        self.cond = threading.Condition()
        self.index = 1
        self.tables = {t: 1 for t in ("nodes", "services", "checks", "kvs", "sessions", "coordinates")}
        self.session_ttl_min = session_ttl_min
        self.stopping = False
        self.nodes = {}  # name -> catalog node
        self.services = {}  # (node, service id) -> service
        self.checks = {}  # (node, check id) -> check (+ _ttl, _deadline, _dereg, _critical_since)
        self.kv = {}  # key -> entry (+ _value bytes)
        self.tombstones = {}  # deleted key -> index of the delete
        self.sessions = {}  # id -> session (+ _expires)
        self.coords = {}  # node -> coordinate entry
        with self.cond:
            for name in nodes:
                idx = self.bump("nodes", "checks", "coordinates")
                self.nodes[name] = {"ID": str(uuid.uuid4()), "Node": name, "Address": "127.0.0.1",
                                    "Datacenter": "dc1", "TaggedAddresses": {"lan": "127.0.0.1", "wan": "127.0.0.1"},
                                    "Meta": {}, "CreateIndex": idx, "ModifyIndex": idx}
                self.checks[(name, "serfHealth")] = {
                    "Node": name, "CheckID": "serfHealth", "Name": "Serf Health Status", "Status": "passing",
                    "Notes": "", "Output": "Agent alive and reachable", "ServiceID": "", "ServiceName": "",
                    "ServiceTags": [], "Type": "", "CreateIndex": idx, "ModifyIndex": idx}
                self.coords[name] = {"Node": name, "Segment": "", "Coord": {
                    "Vec": [0.0] * DIMENSIONALITY, "Error": 1.5, "Adjustment": 0.0, "Height": 1.0e-5}}

    # --- plumbing (callers hold self.cond) ---
    def bump(self, *tables):
        self.index += 1
        for t in tables:
            self.tables[t] = self.index
        self.cond.notify_all()
        return self.index

    def blocking(self, query, min_index, wait):
        """Runs query() -> (index, result) until index > min_index or wait passes."""
        deadline = time.monotonic() + wait
        with self.cond:
            while True:
                index, result = query()
                index = max(index, 1)
                if min_index <= 0 or index > min_index or self.stopping:
                    return index, result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return index, result
                self.cond.wait(remaining)

    def stop(self):
        with self.cond:
            self.stopping = True
            self.cond.notify_all()

    # --- checks and services ---
    def set_check_status(self, check, status, output, now):
        """Sets status/output; restarts the TTL; bumps only on a change."""
        if check.get("_ttl"):
            check["_deadline"] = now + check["_ttl"]
        if status == "critical":
            check.setdefault("_critical_since", now)
            if check["_critical_since"] is None:
                check["_critical_since"] = now
        else:
            check["_critical_since"] = None
        if check["Status"] != status or check["Output"] != output:
            check["Status"], check["Output"] = status, output
            check["ModifyIndex"] = self.bump("checks")

    def remove_service(self, node, sid):
        self.services.pop((node, sid), None)
        for key in [k for k, c in self.checks.items() if k[0] == node and c["ServiceID"] == sid]:
            del self.checks[key]
        self.bump("services", "checks")

    def reap(self, now):
        """TTL expiry, DeregisterCriticalServiceAfter and session TTLs."""
        for check in list(self.checks.values()):
            if check.get("_ttl") and check["Status"] != "critical" and now >= check["_deadline"]:
                self.set_check_status(check, "critical", "TTL expired", now)
        for check in list(self.checks.values()):
            since = check.get("_critical_since")
            if check.get("_dereg") and check["Status"] == "critical" and since is not None \
                    and now - since >= check["_dereg"]:
                if (check["Node"], check["ServiceID"]) in self.services:
                    self.remove_service(check["Node"], check["ServiceID"])
        for sid, s in list(self.sessions.items()):
            if s["_expires"] is not None and now >= s["_expires"]:
                self.invalidate_session(sid)

    # --- KV ---
    def kv_view(self, e):
        out = {k: v for k, v in e.items() if not k.startswith("_")}
        out["Value"] = base64.b64encode(e["_value"]).decode() if e["_value"] else None
        return out

    def kv_index(self, key, prefix):
        if prefix:
            idx = [e["ModifyIndex"] for k, e in self.kv.items() if k.startswith(key)]
            idx += [i for k, i in self.tombstones.items() if k.startswith(key)]
            return max(idx) if idx else self.tables["kvs"]
        if key in self.kv:
            return self.kv[key]["ModifyIndex"]
        return self.tombstones.get(key, self.tables["kvs"])

    def kv_delete_key(self, key, idx):
        del self.kv[key]
        self.tombstones[key] = idx

    # --- sessions ---
    def session_view(self, s):
        return {k: v for k, v in s.items() if not k.startswith("_")}

    def invalidate_session(self, sid):
        s = self.sessions.pop(sid, None)
        if s is None:
            return
        idx = self.bump("sessions", "kvs")
        for key, e in list(self.kv.items()):
            if e.get("Session") == sid:
                if s["Behavior"] == "delete":
                    self.kv_delete_key(key, idx)
                else:
                    e.pop("Session", None)
                    e["ModifyIndex"] = idx

    # --- health ---
    def health_entries(self, name, passing_only, tag):
        out = []
        for (node, sid), svc in sorted(self.services.items()):
            if svc["Service"] != name or (tag and tag not in svc["Tags"]):
                continue
            checks = [_check_view(c) for (n, _), c in sorted(self.checks.items())
                      if n == node and (c["ServiceID"] in ("", sid))]
            if passing_only and any(c["Status"] != "passing" for c in checks):
                continue
            out.append({"Node": self.nodes[node], "Service": svc, "Checks": checks})
        return out

    def health_index(self):
        return max(self.tables["services"], self.tables["checks"], self.tables["nodes"])
