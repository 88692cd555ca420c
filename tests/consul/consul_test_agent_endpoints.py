"""HTTP endpoints of consul-test-agent (TEST EQUIPMENT, not a Consul).

Each endpoint is fn(req) -> (index, result), run with req.state.cond held.
`result` is a JSON-able value (200) or a (status, payload, content-type)
tuple. Blocking-capable GETs are marked in ROUTES and get X-Consul-Index.
"""
import base64
import math
import re
import time
import uuid

import consul_test_agent_state as st
from consul_test_agent_state import HttpError

TEXT = "text/plain; charset=utf-8"


def _true_false(ok):
    return 200, "true" if ok else "false", "application/json"


def _uint(req, name):
    try:
        v = int(req.get(name))
        if v < 0:
            raise ValueError
        return v
    except (TypeError, ValueError):
        raise HttpError(400, "Invalid %s: must be a non-negative integer" % name)


def _duration(value, what):
    try:
        return st.parse_duration(value)
    except (ValueError, TypeError):
        raise HttpError(400, "Invalid %s %r" % (what, value))


# --- agent ---------------------------------------------------------------
def _check_from(defn, svc, n, total, now):
    if not isinstance(defn, dict):
        raise HttpError(400, "Request decode failed: check is not an object")
    if not defn.get("TTL"):
        raise HttpError(400, "consul-test-agent supports only TTL checks (no TTL in check)")
    cid = defn.get("CheckID") or defn.get("ID") or (
        "service:%s" % svc["ID"] if total == 1 else "service:%s:%d" % (svc["ID"], n + 1))
    status = defn.get("Status") or "critical"
    if status not in ("passing", "warning", "critical"):
        raise HttpError(400, "Invalid initial check status %r" % status)
    return cid, {
        "Name": defn.get("Name") or "Service '%s' check" % svc["Service"], "Status": status,
        "Notes": defn.get("Notes") or "", "Output": "", "_ttl": _duration(defn["TTL"], "TTL"),
        "_dereg": _duration(defn.get("DeregisterCriticalServiceAfter") or "0", "DeregisterCriticalServiceAfter"),
    }


def agent_register(req):
    s, body = req.state, req.json()
    name = body.get("Name")
    if not name:
        raise HttpError(400, "Missing service name")
    sid = body.get("ID") or name
    now = time.monotonic()
    svc = {"ID": sid, "Service": name, "Tags": body.get("Tags") or [], "Address": body.get("Address") or "",
           "Meta": dict(body.get("Meta") or {}), "Port": int(body.get("Port") or 0),
           "Weights": {"Passing": 1, "Warning": 1}, "EnableTagOverride": False, "Datacenter": "dc1"}
    # Check and Checks (any case, as Consul decodes them) both define checks.
    checks_list = body.get("Checks") or []
    if not isinstance(checks_list, list):
        raise HttpError(400, "Request decode failed: Checks is not an array")
    defs = ([body["Check"]] if body.get("Check") else []) + checks_list
    checks = dict(_check_from(d, svc, i, len(defs), now) for i, d in enumerate(defs))
    key = (req.node, sid)
    old = s.services.get(key)
    if old is None or {k: v for k, v in old.items() if "Index" not in k} != svc:
        idx = s.bump("services")
        svc["CreateIndex"] = old["CreateIndex"] if old else idx
        svc["ModifyIndex"] = idx
        s.services[key] = svc
    if req.get("replace-existing-checks") not in (None, "false", "0"):
        for ck in [k for k, c in s.checks.items() if k[0] == req.node and c["ServiceID"] == sid
                   and k[1] not in checks]:
            del s.checks[ck]
            s.bump("checks")
    for cid, c in checks.items():
        existing = s.checks.get((req.node, cid))
        if existing is None:
            idx = s.bump("checks")
            existing = {"Node": req.node, "CheckID": cid, "ServiceID": sid, "ServiceName": name,
                        "ServiceTags": svc["Tags"], "Type": "ttl", "Output": "", "Status": None,
                        "CreateIndex": idx, "ModifyIndex": idx, "_critical_since": None}
            s.checks[(req.node, cid)] = existing
        existing.update(Name=c["Name"], Notes=c["Notes"], ServiceName=name, ServiceTags=svc["Tags"],
                        _ttl=c["_ttl"], _dereg=c["_dereg"])
        s.set_check_status(existing, c["Status"], existing["Output"], now)
    return 0, (200, "", TEXT)


def agent_deregister(req):
    if (req.node, req.arg) not in req.state.services:
        raise HttpError(404, 'Unknown service ID "%s". Ensure that the service ID is passed, '
                             "not the service name." % req.arg)
    req.state.remove_service(req.node, req.arg)
    return 0, (200, "", TEXT)


def _agent_check(req):
    c = req.state.checks.get((req.node, req.arg))
    if c is None:
        raise HttpError(404, 'Unknown check ID "%s". Ensure that the check ID is passed, '
                             "not the check name." % req.arg)
    if not c.get("_ttl"):
        raise HttpError(500, 'Check "%s" is not a TTL check' % req.arg)
    return c


def agent_check_verb(status):
    def fn(req):
        c = _agent_check(req)
        req.state.set_check_status(c, status, req.get("note", ""), time.monotonic())
        return 0, (200, "", TEXT)
    return fn


def agent_check_update(req):
    c, body = _agent_check(req), req.json()
    status = body.get("Status")
    if status not in ("passing", "warning", "critical"):
        raise HttpError(400, "Invalid check status: %r" % status)
    req.state.set_check_status(c, status, body.get("Output") or "", time.monotonic())
    return 0, (200, "", TEXT)


def agent_services(req):
    out = {sid: svc for (n, sid), svc in req.state.services.items() if n == req.node}
    return req.state.tables["services"], out


def agent_checks(req):
    out = {cid: st._check_view(c) for (n, cid), c in req.state.checks.items() if n == req.node}
    return req.state.tables["checks"], out


def _member(name):
    return {"Name": name, "Addr": "127.0.0.1", "Port": 8301, "Tags": {"role": "node", "dc": "dc1"},
            "Status": 1}


def agent_self(req):
    node = req.state.nodes[req.node]
    return 0, {"Config": {"Datacenter": "dc1", "NodeName": req.node, "NodeID": node["ID"],
                          "Server": True, "Version": "0.0.0-consul-test-agent"},
               "Member": _member(req.node), "Coord": req.state.coords[req.node]["Coord"], "Meta": {}}


def agent_members(req):
    return 0, [_member(n) for n in sorted(req.state.nodes)]


def status_leader(req):
    return 0, "127.0.0.1:8300"


# --- health and catalog --------------------------------------------------
def health_service(req):
    s = req.state
    return s.health_index(), s.health_entries(req.arg, req.has("passing"), req.get("tag"))


def catalog_services(req):
    out = {}
    for svc in req.state.services.values():
        out.setdefault(svc["Service"], set()).update(svc["Tags"])
    return req.state.tables["services"], {k: sorted(v) for k, v in out.items()}


def catalog_nodes(req):
    return req.state.tables["nodes"], [req.state.nodes[n] for n in sorted(req.state.nodes)]


def catalog_service(req):
    s, out = req.state, []
    for (node, sid), svc in sorted(s.services.items()):
        if svc["Service"] == req.arg:
            n = s.nodes[node]
            out.append({"Node": node, "Address": n["Address"], "ServiceID": sid, "ServiceName": svc["Service"],
                        "ServiceTags": svc["Tags"], "ServiceAddress": svc["Address"], "ServicePort": svc["Port"],
                        "ServiceMeta": svc["Meta"], "CreateIndex": svc["CreateIndex"],
                        "ModifyIndex": svc["ModifyIndex"]})
    return s.tables["services"], out


# --- KV --------------------------------------------------------------------
def kv_get(req):
    s, key = req.state, req.arg
    if req.has("keys"):
        sep = req.get("separator", "")
        keys = set()
        for k in s.kv:
            if k.startswith(key):
                rest = k[len(key):]
                if sep and sep in rest:
                    k = key + rest[:rest.index(sep) + len(sep)]
                keys.add(k)
        if not keys and key:
            return s.kv_index(key, True), (404, "", TEXT)
        return s.kv_index(key, True), sorted(keys)
    if req.has("recurse"):
        entries = [s.kv_view(e) for k, e in sorted(s.kv.items()) if k.startswith(key)]
        if not entries:
            return s.kv_index(key, True), (404, "", TEXT)
        return s.kv_index(key, True), entries
    e = s.kv.get(key)
    if e is None:
        return s.kv_index(key, False), (404, "", TEXT)
    if req.has("raw"):
        return e["ModifyIndex"], (200, e["_value"], "application/octet-stream")
    return e["ModifyIndex"], [s.kv_view(e)]


def kv_put(req):
    s, key = req.state, req.arg
    if not key:
        raise HttpError(400, "Missing key name")
    if len(req.body) > st.MAX_VALUE_BYTES:
        raise HttpError(413, "Request body(%d bytes) too large, max size: %d bytes."
                        % (len(req.body), st.MAX_VALUE_BYTES))
    acquire, release = req.get("acquire"), req.get("release")
    if acquire and release:
        raise HttpError(400, "Conflicting flags: acquire and release")
    e = s.kv.get(key)
    if req.has("cas"):
        cas = _uint(req, "cas")
        if (cas == 0 and e is not None) or (cas != 0 and (e is None or e["ModifyIndex"] != cas)):
            return 0, _true_false(False)
    lock_session = acquire or release
    if lock_session and lock_session not in s.sessions:
        raise HttpError(500, 'invalid session "%s"' % lock_session)
    if acquire and e is not None and e.get("Session") not in (None, acquire):
        return 0, _true_false(False)
    if release and (e is None or e.get("Session") != release):
        return 0, _true_false(False)
    idx = s.bump("kvs")
    if e is None:
        e = {"Key": key, "Flags": 0, "CreateIndex": idx, "LockIndex": 0}
        s.kv[key] = e
        s.tombstones.pop(key, None)
    e["_value"], e["ModifyIndex"] = req.body, idx
    if req.has("flags"):
        e["Flags"] = _uint(req, "flags")
    if acquire and e.get("Session") != acquire:
        e["Session"] = acquire
        e["LockIndex"] += 1
    if release:
        e.pop("Session", None)
    return 0, _true_false(True)


def kv_delete(req):
    s, key = req.state, req.arg
    if req.has("recurse"):
        keys = [k for k in s.kv if k.startswith(key)]
    else:
        keys = [key] if key in s.kv else []
        if req.has("cas"):
            cas = _uint(req, "cas")
            e = s.kv.get(key)
            if (cas == 0 and e is not None) or (cas != 0 and (e is None or e["ModifyIndex"] != cas)):
                return 0, _true_false(False)
    if keys:
        idx = s.bump("kvs")
        for k in keys:
            s.kv_delete_key(k, idx)
    return 0, _true_false(True)


# --- sessions ----------------------------------------------------------------
def session_create(req):
    s, body = req.state, req.json()
    node = body.get("Node") or req.node
    if node not in s.nodes:
        raise HttpError(500, "Missing node registration")
    ttl = _duration(body.get("TTL") or "0", "Session TTL")
    if ttl != 0 and not (s.session_ttl_min <= ttl <= st.SESSION_TTL_MAX):
        raise HttpError(400, "Invalid Session TTL '%s', must be between [%s=24h0m0s]"
                        % (body.get("TTL"), st.format_duration(s.session_ttl_min)))
    behavior = body.get("Behavior") or "release"
    if behavior not in ("release", "delete"):
        raise HttpError(400, "Invalid Behavior setting '%s'" % behavior)
    delay = _duration(body.get("LockDelay", "15s"), "LockDelay")
    idx = s.bump("sessions")
    sid = str(uuid.uuid4())
    checks = body.get("NodeChecks", body.get("Checks", ["serfHealth"])) or []
    s.sessions[sid] = {"ID": sid, "Name": body.get("Name") or "", "Node": node,
                       "LockDelay": int(delay * 1e9), "Behavior": behavior,
                       "TTL": body.get("TTL") or "", "NodeChecks": checks, "ServiceChecks": None,
                       "CreateIndex": idx, "ModifyIndex": idx, "_ttl": ttl,
                       "_expires": time.monotonic() + 2 * ttl if ttl else None}
    return 0, {"ID": sid}


def session_destroy(req):
    req.state.invalidate_session(req.arg)
    return 0, _true_false(True)


def session_renew(req):
    sess = req.state.sessions.get(req.arg)
    if sess is None:
        raise HttpError(404, "Session id '%s' not found" % req.arg)
    if sess["_ttl"]:
        sess["_expires"] = time.monotonic() + 2 * sess["_ttl"]
    return 0, [req.state.session_view(sess)]


def session_info(req):
    sess = req.state.sessions.get(req.arg)
    return req.state.tables["sessions"], [req.state.session_view(sess)] if sess else []


def session_list(req):
    return req.state.tables["sessions"], [req.state.session_view(x) for x in req.state.sessions.values()]


# --- coordinates -------------------------------------------------------------
def coordinate_nodes(req):
    s = req.state
    return s.tables["coordinates"], [s.coords[n] for n in sorted(s.coords)]


def coordinate_node(req):
    s = req.state
    if req.arg not in s.coords:
        return s.tables["coordinates"], (404, "", TEXT)
    return s.tables["coordinates"], [s.coords[req.arg]]


def coordinate_update(req):
    s, body = req.state, req.json()
    node, coord = body.get("Node"), body.get("Coord")
    if node not in s.nodes:
        raise HttpError(400, "Node %r is not registered" % node)
    ok = isinstance(coord, dict) and isinstance(coord.get("Vec"), list) \
        and len(coord["Vec"]) == st.DIMENSIONALITY
    nums = (coord.get("Vec") or []) + [coord.get(k, 0) for k in ("Error", "Adjustment", "Height")] if ok else []
    if not ok or not all(isinstance(x, (int, float)) and math.isfinite(x) for x in nums):
        raise HttpError(400, "Invalid coordinate (want Vec of %d finite numbers, Error, "
                             "Adjustment, Height)" % st.DIMENSIONALITY)
    s.coords[node] = {"Node": node, "Segment": body.get("Segment") or "", "Coord": {
        "Vec": [float(x) for x in coord["Vec"]], "Error": float(coord.get("Error", 1.5)),
        "Adjustment": float(coord.get("Adjustment", 0)), "Height": float(coord.get("Height", 1e-5))}}
    s.bump("coordinates")
    return 0, (200, "", TEXT)


def _r(methods, path, fn, blocking=False):
    return (methods, re.compile(path), fn, blocking)


GET, PUT = ("GET",), ("PUT", "POST")
ROUTES = [
    _r(PUT, r"/v1/agent/service/register", agent_register),
    _r(PUT, r"/v1/agent/service/deregister/(.+)", agent_deregister),
    _r(PUT, r"/v1/agent/check/pass/(.+)", agent_check_verb("passing")),
    _r(PUT, r"/v1/agent/check/warn/(.+)", agent_check_verb("warning")),
    _r(PUT, r"/v1/agent/check/fail/(.+)", agent_check_verb("critical")),
    _r(PUT, r"/v1/agent/check/update/(.+)", agent_check_update),
    _r(GET, r"/v1/agent/services", agent_services),
    _r(GET, r"/v1/agent/checks", agent_checks),
    _r(GET, r"/v1/agent/self", agent_self),
    _r(GET, r"/v1/agent/members", agent_members),
    _r(GET, r"/v1/status/leader", status_leader),
    _r(GET, r"/v1/health/service/(.+)", health_service, True),
    _r(GET, r"/v1/catalog/services", catalog_services, True),
    _r(GET, r"/v1/catalog/nodes", catalog_nodes, True),
    _r(GET, r"/v1/catalog/service/(.+)", catalog_service, True),
    _r(GET, r"/v1/kv/(.*)", kv_get, True),
    _r(PUT, r"/v1/kv/(.*)", kv_put),
    _r(("DELETE",), r"/v1/kv/(.*)", kv_delete),
    _r(PUT, r"/v1/session/create", session_create),
    _r(PUT, r"/v1/session/destroy/(.+)", session_destroy),
    _r(PUT, r"/v1/session/renew/(.+)", session_renew),
    _r(GET, r"/v1/session/info/(.+)", session_info, True),
    _r(GET, r"/v1/session/list", session_list, True),
    _r(GET, r"/v1/coordinate/nodes", coordinate_nodes, True),
    _r(GET, r"/v1/coordinate/node/(.+)", coordinate_node, True),
    _r(PUT, r"/v1/coordinate/update", coordinate_update),
]
