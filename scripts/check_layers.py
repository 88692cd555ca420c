#!/usr/bin/env python3
"""Fails when a source file includes what its layer must not use.

Reads the #include lines of every C/C++ file of the tree (tests/ excepted:
tests reach into internals on purpose), puts each file in a layer (LAYERS),
resolves each quoted include to the file it names, and checks it against
ALLOWED: which layers a layer may include, and whether only their public
headers (a path with /include/) or any of their files. Libraries from Debian
packages (ZeroMQ, libfuse, prometheus-cpp...) are checked against
THIRD_PARTY. ARCHITECTURE.md ("Layers") says why each rule exists.

Usage: check_layers.py [ROOT]   (default: the repository around this script)
       check_layers.py --self-test
Exit status 0 when every include is allowed; 1 with one line per offence
("file:line: includes "x" (path): why"); 2 on bad usage.
"""

import fnmatch
import os
import re
import subprocess
import sys
import tempfile

# (layer, path globs): a file is in the first layer one of whose globs
# matches its path from the root ("*" matches "/" too).
LAYERS = [
    ("common", ["common/*"]),
    ("consul", ["consul/*"]),
    ("worker_config", ["worker/include/shovel/worker/config.h",
                       "worker/include/shovel/worker/kv_config.h",
                       "worker/src/kv_config.cc"]),
    ("worker_consul", ["worker/src/consul_agent_link.*", "worker/src/consul_setup.*"]),
    ("worker_metrics", ["worker/include/shovel/worker/metrics_endpoint.h",
                        "worker/include/shovel/worker/prometheus_families.h",
                        "worker/src/metrics_endpoint.cc"]),
    ("worker_main", ["worker/src/main.cc"]),
    ("worker", ["worker/*"]),  # the core: store, service, server
    ("c_api", ["client/include/shovel/shovel.h", "client/c_api*"]),
    ("client", ["client/*"]),
    ("fuse", ["fs/src/fuse_ops.*", "fs/src/fuse_mount.cc",
              "fs/include/shovel/fs/fuse_mount.h"]),
    ("fs_metrics", ["fs/src/mount_metrics_families.cc",
                    "fs/include/shovel/fs/mount_metrics_families.h"]),
    ("fs_main", ["fs/main.cc"]),
    ("vfs", ["fs/*"]),
    ("cli", ["cli/*"]),
    ("bench", ["bench/*"]),
    ("examples", ["examples/*"]),
    ("tests", ["tests/*"]),
]

PUBLIC = "public"  # only the other layer's headers under an include/ folder
ANY = "any"        # any of its files (the same folder's own executable)

# layer -> {layer it may include: PUBLIC or ANY}. A layer always may include
# its own files. tests: not checked.
ALLOWED = {
    "common": {},
    "consul": {"common": PUBLIC},
    "worker_config": {"common": PUBLIC},
    "worker": {"common": PUBLIC, "worker_config": PUBLIC},
    "worker_consul": {"common": PUBLIC, "consul": PUBLIC, "worker_config": PUBLIC,
                      "worker": PUBLIC},
    "worker_metrics": {"common": PUBLIC, "worker": PUBLIC},
    "worker_main": {"common": PUBLIC, "consul": PUBLIC, "worker_config": PUBLIC,
                    "worker": ANY, "worker_consul": ANY, "worker_metrics": ANY},
    "client": {"common": PUBLIC, "consul": PUBLIC},
    "c_api": {"common": PUBLIC, "client": PUBLIC},
    "vfs": {"common": PUBLIC, "client": PUBLIC},
    "fuse": {"common": PUBLIC, "vfs": PUBLIC},
    "fs_metrics": {"common": PUBLIC, "vfs": PUBLIC, "worker_metrics": PUBLIC},
    "fs_main": {"common": PUBLIC, "client": PUBLIC, "vfs": PUBLIC, "fuse": PUBLIC,
                "fs_metrics": PUBLIC, "worker": PUBLIC, "worker_metrics": PUBLIC},
    "cli": {"common": PUBLIC, "consul": PUBLIC, "client": PUBLIC,
            "worker_config": PUBLIC},
    "bench": {"common": PUBLIC, "client": PUBLIC, "tests": ANY},
    "examples": {"c_api": PUBLIC},
}

# (include prefix, who may include it: layer names or path globs, why).
THIRD_PARTY = [
    ("fuse", ["fs/src/fuse_ops.*", "fs/src/fuse_mount.cc"],
     "only the FUSE binding includes libfuse; the vfs is tested without it"),
    ("zmq", ["worker/src/server*", "worker/src/replicator*", "worker/src/zap_handler*",
             "client/src/zmq_*", "client/src/direct_calls.*",
             "client/src/connection_watch.*", "client/src/curve_keys.*",
             "cli/src/keygen.cc", "bench"],
     "ZeroMQ stays in the ZeroMQ transports (the worker's server, replicator and "
     "ZAP handler; the client's ZeroMQ transport)"),
    ("zstd", ["worker"], "compression is the worker core's"),
    ("curl/", ["consul"], "HTTP is the Consul library's"),
    ("nlohmann/", ["consul", "cli"], "JSON is the Consul codec's and shovelctl's"),
    ("prometheus/", ["worker_metrics", "fs_metrics"],
     "prometheus-cpp stays in the metrics endpoints"),
    ("spdlog/", ["common"], "the one logging library is behind shovel/log.h"),
    ("systemd/", ["common", "worker_main"], "the journal sink and sd_notify"),
    ("CLI/", ["cli", "worker_main"], "flags are parsed in main files and shovelctl"),
    ("readline/", ["cli"], "shovelctl's shell"),
]

# Where quoted includes are looked up after the including file's folder:
# the public roots, then every private folder (so an include that works only
# through another target's include path still names the file it reaches).
INCLUDE_ROOTS = ["common/include", "consul/include", "worker/include",
                 "client/include", "fs/include"]
PRIVATE_ROOTS = ["common/src", "consul/src", "worker/src", "client/src", "client",
                 "fs/src", "fs", "cli/src", "bench", "tests/common", "tests/worker",
                 "tests/client"]

SOURCE = re.compile(r".*\.(c|cc|cpp|h|hpp)$")
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def layer_of(path):
    for name, globs in LAYERS:
        if any(fnmatch.fnmatchcase(path, g) for g in globs):
            return name
    return None


def list_sources(root):
    if os.path.exists(os.path.join(root, ".git")):
        out = subprocess.run(
            ["git", "-C", root, "ls-files", "--cached", "--others", "--exclude-standard"],
            check=True, capture_output=True, text=True).stdout.split("\n")
        files = [f for f in out if SOURCE.match(f)]
        return sorted(f for f in files if os.path.isfile(os.path.join(root, f)))
    files = []
    for d, dirs, names in os.walk(root):
        dirs[:] = [x for x in dirs if not x.startswith((".", "_")) and x != "build"]
        for n in names:
            if SOURCE.match(n):
                files.append(os.path.relpath(os.path.join(d, n), root))
    return sorted(files)


def resolve(root, path, inc, quoted):
    """The repository path `inc` names, or None (a system or package header)."""
    dirs = [os.path.dirname(path)] if quoted else []
    dirs += INCLUDE_ROOTS + (PRIVATE_ROOTS if quoted else [])
    for d in dirs:
        p = os.path.normpath(os.path.join(d, inc))
        if os.path.isfile(os.path.join(root, p)):
            return p
    return None


def allowed_by(entries, path, layer):
    return any((fnmatch.fnmatchcase(path, e) if "/" in e or "*" in e
                else (e == layer or fnmatch.fnmatchcase(path, e + "/*")))
               for e in entries)


def check(root):
    offences = []
    for path in list_sources(root):
        layer = layer_of(path)
        if layer is None:
            offences.append(f"{path}: is in no layer; add it to LAYERS in "
                            "scripts/check_layers.py (and to ARCHITECTURE.md)")
            continue
        if layer == "tests":
            continue
        with open(os.path.join(root, path), encoding="utf-8", errors="replace") as f:
            lines = f.readlines()
        for n, line in enumerate(lines, 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            quoted, inc = m.group(1) == '"', m.group(2)
            target = resolve(root, path, inc, quoted)
            close = '"' if quoted else ">"
            where = f"{path}:{n}: includes {m.group(1)}{inc}{close}"
            if target is None:
                for prefix, who, why in THIRD_PARTY:
                    if inc.startswith(prefix) and not allowed_by(who, path, layer):
                        offences.append(f"{where}: {why}")
                continue
            to = layer_of(target)
            if to == layer:
                continue
            rule = ALLOWED.get(layer, {}).get(to)
            if rule is None:
                offences.append(f"{where} ({target}): {layer} must not include "
                                f"{to or 'a file in no layer'}")
            elif rule == PUBLIC and "/include/" not in "/" + target:
                offences.append(f"{where} ({target}): {layer} may use only the public "
                                f"headers (include/) of {to}")
    return offences


# The self-test: a small tree with one allowed include of each kind and one
# offence of each kind; the check must name exactly the offences.
FIXTURE = {
    "common/include/shovel/status.h": ["<string>"],
    "common/src/status.cc": ['"shovel/status.h"', '"shovel/client.h"'],
    "consul/include/shovel/consul/client.h": ['"shovel/status.h"'],
    "client/include/shovel/client.h": ['"shovel/status.h"'],
    "client/src/transport.h": ['"shovel/consul/client.h"'],
    "client/src/zmq_transport.cc": ['"transport.h"', "<zmq.hpp>"],
    "client/src/placement.cc": ['"transport.h"', "<zmq.hpp>"],
    "worker/include/shovel/worker/worker.h": ['"shovel/status.h"'],
    "worker/src/service.h": ['"shovel/worker/worker.h"'],
    "worker/src/store.cc": ['"service.h"', '"shovel/consul/client.h"'],
    "worker/src/consul_agent_link.cc": ['"shovel/consul/client.h"',
                                        '"shovel/worker/worker.h"', '"service.h"'],
    "fs/include/shovel/fs/vfs.h": ['"shovel/client.h"'],
    "fs/src/vfs.cc": ['"shovel/fs/vfs.h"', '"transport.h"', "<fuse_lowlevel.h>"],
    "fs/src/fuse_ops.cc": ['"shovel/fs/vfs.h"', "<fuse_lowlevel.h>"],
    "fs/main.cc": ['"shovel/worker/worker.h"', '"service.h"'],
    "tests/worker/store_test.cc": ['"service.h"', "<zmq.hpp>"],
    "tools/new.cc": [],
}
EXPECTED = [
    'common/src/status.cc:2: includes "shovel/client.h" (client/include/shovel/client.h): '
    "common must not include client",
    "client/src/placement.cc:2: includes <zmq.hpp>: ZeroMQ stays",
    'worker/src/store.cc:2: includes "shovel/consul/client.h" '
    "(consul/include/shovel/consul/client.h): worker must not include consul",
    'worker/src/consul_agent_link.cc:3: includes "service.h" (worker/src/service.h): '
    "worker_consul may use only the public headers (include/) of worker",
    'fs/src/vfs.cc:2: includes "transport.h" (client/src/transport.h): '
    "vfs may use only the public headers (include/) of client",
    "fs/src/vfs.cc:3: includes <fuse_lowlevel.h>: only the FUSE binding",
    'fs/main.cc:2: includes "service.h" (worker/src/service.h): fs_main may use only',
    "tools/new.cc: is in no layer",
]


def self_test():
    with tempfile.TemporaryDirectory(prefix="shovel-layers-") as root:
        for path, incs in FIXTURE.items():
            os.makedirs(os.path.join(root, os.path.dirname(path)), exist_ok=True)
            with open(os.path.join(root, path), "w", encoding="utf-8") as f:
                f.write("".join(f"#include {i}\n" for i in incs))
        got = check(root)
    missing = [e for e in EXPECTED if not any(g.startswith(e) for g in got)]
    extra = [g for g in got if not any(g.startswith(e) for e in EXPECTED)]
    for e in missing:
        print(f"self-test: not reported: {e}", file=sys.stderr)
    for g in extra:
        print(f"self-test: reported but allowed: {g}", file=sys.stderr)
    if missing or extra:
        return 1
    print(f"check_layers self-test: the {len(EXPECTED)} offences of the fixture reported, "
          "nothing else")
    return 0


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    if len(argv) > 2 or (len(argv) == 2 and argv[1].startswith("-")):
        print(__doc__, file=sys.stderr)
        return 2
    root = argv[1] if len(argv) == 2 else os.path.join(os.path.dirname(__file__), "..")
    offences = check(os.path.abspath(root))
    for o in offences:
        print(o, file=sys.stderr)
    if offences:
        print(f"{len(offences)} include(s) break the layers (ARCHITECTURE.md, Layers)",
              file=sys.stderr)
        return 1
    checked = [p for p in list_sources(os.path.abspath(root)) if layer_of(p) != "tests"]
    print(f"layers: every include of the {len(checked)} files outside tests/ is allowed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
