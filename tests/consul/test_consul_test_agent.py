#!/usr/bin/env python3
"""The Consul test agent reads request bodies the way Consul does.

Consul decodes bodies with Go's encoding/json, which matches field names
without regard to case, and clients in the wild send "name", "id", "port",
"check", "ttl" in lower case. These tests send bodies as such clients do and
check, through the agent's read endpoints, what was created.

  python3 -m unittest tests/consul/test_consul_test_agent.py
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.realpath(__file__))
AGENT = os.path.join(HERE, "consul_test_agent.py")


class AgentBodies(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="consul-agent-test-")
        ready = os.path.join(cls.tmp.name, "ready")
        cls.proc = subprocess.Popen([sys.executable, AGENT, "--node", "n1=127.0.0.1:0",
                                     "--ready-file", ready])
        deadline = time.monotonic() + 20
        while not os.path.exists(ready):
            if cls.proc.poll() is not None or time.monotonic() > deadline:
                cls.tearDownClass()
                raise RuntimeError("consul-test-agent did not start")
            time.sleep(0.02)
        with open(ready) as f:
            cls.base = "http://" + f.read().strip().partition("=")[2]

    @classmethod
    def tearDownClass(cls):
        cls.proc.terminate()
        cls.proc.wait(timeout=20)
        cls.tmp.cleanup()

    def call(self, method, path, body=None):
        """(status, decoded JSON or text) of one request; body: dict or str."""
        data = None
        if body is not None:
            data = (body if isinstance(body, str) else json.dumps(body)).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                status, raw, ctype = r.status, r.read(), r.headers.get("Content-Type", "")
        except urllib.error.HTTPError as e:
            status, raw, ctype = e.code, e.read(), e.headers.get("Content-Type", "")
        text = raw.decode()
        if "json" in ctype and text:
            return status, json.loads(text)
        return status, text

    def register(self, body):
        return self.call("PUT", "/v1/agent/service/register", body)

    def checks_of(self, service_id):
        status, checks = self.call("GET", "/v1/agent/checks")
        self.assertEqual(status, 200)
        return {cid: c for cid, c in checks.items() if c["ServiceID"] == service_id}

    def tearDown(self):
        _, services = self.call("GET", "/v1/agent/services")
        for sid in services:
            self.call("PUT", "/v1/agent/service/deregister/" + sid)

    def test_lower_case_registration_with_inline_check(self):
        status, text = self.register({
            "name": "web", "id": "web-1", "port": 8080, "address": "127.0.0.1",
            "tags": ["a"], "meta": {"Version": "1"},
            "check": {"ttl": "10s", "status": "passing", "notes": "lower case",
                      "deregistercriticalserviceafter": "1m"}})
        self.assertEqual((status, text), (200, ""))
        _, services = self.call("GET", "/v1/agent/services")
        svc = services["web-1"]
        self.assertEqual((svc["Service"], svc["Port"], svc["Address"], svc["Tags"]),
                         ("web", 8080, "127.0.0.1", ["a"]))
        self.assertEqual(svc["Meta"], {"Version": "1"})  # a map: its keys stay as sent
        checks = self.checks_of("web-1")
        self.assertEqual(list(checks), ["service:web-1"])
        c = checks["service:web-1"]
        self.assertEqual((c["Status"], c["Type"], c["Notes"], c["ServiceName"]),
                         ("passing", "ttl", "lower case", "web"))

    def test_upper_case_name_with_lower_case_check_creates_the_check(self):
        status, _ = self.register({"Name": "svc", "ID": "svc-1", "check": {"TTL": "10s"}})
        self.assertEqual(status, 200)
        checks = self.checks_of("svc-1")
        self.assertEqual(list(checks), ["service:svc-1"])
        self.assertEqual(checks["service:svc-1"]["Status"], "critical")  # Consul's default
        # The check gates health: not passing until the service says so.
        _, entries = self.call("GET", "/v1/health/service/svc?passing")
        self.assertEqual(entries, [])
        status, _ = self.call("PUT", "/v1/agent/check/pass/service:svc-1")
        self.assertEqual(status, 200)
        _, entries = self.call("GET", "/v1/health/service/svc?passing")
        self.assertEqual([e["Service"]["ID"] for e in entries], ["svc-1"])

    def test_mixed_case_checks_list(self):
        status, _ = self.register({
            "NAME": "db", "Id": "db-1", "PORT": 5432,
            "CHECKS": [{"Ttl": "5s", "checkid": "db-alive", "STATUS": "warning"},
                       {"tTL": "5s", "name": "second"}]})
        self.assertEqual(status, 200)
        _, services = self.call("GET", "/v1/agent/services")
        self.assertEqual((services["db-1"]["Service"], services["db-1"]["Port"]), ("db", 5432))
        checks = self.checks_of("db-1")
        self.assertEqual(sorted(checks), ["db-alive", "service:db-1:2"])
        self.assertEqual(checks["db-alive"]["Status"], "warning")
        self.assertEqual(checks["service:db-1:2"]["Name"], "second")

    def test_check_and_checks_together(self):
        status, _ = self.register({"name": "both", "check": {"ttl": "5s"},
                                   "checks": [{"ttl": "5s"}, {"TTL": "5s"}]})
        self.assertEqual(status, 200)
        self.assertEqual(sorted(self.checks_of("both")),
                         ["service:both:1", "service:both:2", "service:both:3"])

    def test_last_key_of_a_field_wins(self):
        status, _ = self.register('{"Name": "first", "name": "second", "ID": "dup"}')
        self.assertEqual(status, 200)
        _, services = self.call("GET", "/v1/agent/services")
        self.assertEqual(services["dup"]["Service"], "second")

    def test_missing_name_in_any_case_is_refused(self):
        status, text = self.register({"id": "x", "port": 1})
        self.assertEqual(status, 400)
        self.assertIn("Missing service name", text)

    def test_inline_check_is_validated(self):
        status, text = self.register({"name": "nottl", "check": {"interval": "10s"}})
        self.assertEqual(status, 400)
        self.assertIn("TTL", text)
        status, text = self.register({"name": "badlist", "checks": {"ttl": "5s"}})
        self.assertEqual(status, 400)
        self.assertIn("Checks is not an array", text)
        _, services = self.call("GET", "/v1/agent/services")
        self.assertNotIn("nottl", services)

    def test_body_that_is_not_an_object_is_refused(self):
        status, text = self.register('["name", "x"]')
        self.assertEqual(status, 400)
        self.assertIn("not a JSON object", text)

    def test_check_update_with_lower_case_fields(self):
        self.assertEqual(self.register({"name": "upd", "check": {"ttl": "30s"}})[0], 200)
        status, _ = self.call("PUT", "/v1/agent/check/update/service:upd",
                              {"status": "warning", "output": "disk 91%"})
        self.assertEqual(status, 200)
        c = self.checks_of("upd")["service:upd"]
        self.assertEqual((c["Status"], c["Output"]), ("warning", "disk 91%"))

    def test_session_create_with_lower_case_fields(self):
        status, created = self.call("PUT", "/v1/session/create",
                                    {"name": "lock", "ttl": "15s", "behavior": "delete",
                                     "lockdelay": "1s"})
        self.assertEqual(status, 200)
        sid = created["ID"]
        try:
            _, info = self.call("GET", "/v1/session/info/" + sid)
            self.assertEqual((info[0]["Name"], info[0]["TTL"], info[0]["Behavior"],
                              info[0]["LockDelay"]), ("lock", "15s", "delete", 10**9))
        finally:
            self.call("PUT", "/v1/session/destroy/" + sid)

    def test_coordinate_update_with_lower_case_fields(self):
        vec = [0.001 * i for i in range(8)]
        status, _ = self.call("PUT", "/v1/coordinate/update",
                              {"node": "n1", "coord": {"vec": vec, "error": 0.25,
                                                       "ADJUSTMENT": 0.5, "height": 0.001}})
        self.assertEqual(status, 200)
        _, entries = self.call("GET", "/v1/coordinate/node/n1")
        coord = entries[0]["Coord"]
        self.assertEqual((coord["Vec"], coord["Error"], coord["Adjustment"], coord["Height"]),
                         (vec, 0.25, 0.5, 0.001))


if __name__ == "__main__":
    unittest.main()
