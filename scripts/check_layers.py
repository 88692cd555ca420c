#!/usr/bin/env python3
"""Fails when a source file includes what its layer must not use, or when
these rules and the CMake target graph disagree.

Reads the #include lines of every C/C++ file of the tree (tests/ excepted:
tests reach into internals on purpose), puts each file in a layer (LAYERS),
resolves each quoted include to the file it names, and checks it against
ALLOWED: which layers a layer may include, and whether only their public
headers (a path with /include/) or any of their files. Libraries from Debian
packages (ZeroMQ, libfuse, prometheus-cpp...) are checked against
THIRD_PARTY. ARCHITECTURE.md ("Layers") says why each rule exists.

With --cmake-graph (the file the build writes, cmake/target_graph.cmake),
the rules are checked against the targets as CMake builds them:
  - every target compiles the files of one layer (so LAYERS follows the
    CMakeLists: a file moved to another target must move layer too), and
    every source outside tests/ and examples/ is compiled by a target;
  - a target that links another target of a different layer is allowed to
    use that layer by ALLOWED (no link the rules do not know of);
  - every rule of ALLOWED is backed by the build: some target of the layer
    links a target of the other, or has its include/ folder on its include
    path (no rule the build does not need);
  - no target has another layer's private headers (a folder other than
    include/) on its include path unless ALLOWED gives it "any";
  - a target that links a Debian package's library is in a layer
    THIRD_PARTY lets include it.

Usage: check_layers.py [--cmake-graph FILE] [ROOT]
       (ROOT: default the repository around this script)
       check_layers.py --self-test
Exit status 0 when every include and the graph agree with the rules; 1 with
one line per offence ("file:line: includes "x" (path): why", "cmake: ...");
2 on bad usage.
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
    ("worker_consul", ["worker/include/shovel/worker/consul_agent_link.h",
                       "worker/include/shovel/worker/consul_setup.h",
                       "worker/src/consul_agent_link.cc", "worker/src/consul_setup.cc"]),
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
    # main.cc sits in worker/src: the core's own folder, so "any" of it.
    "worker_main": {"common": PUBLIC, "consul": PUBLIC, "worker_config": PUBLIC,
                    "worker": ANY, "worker_consul": PUBLIC, "worker_metrics": PUBLIC},
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

# (include prefix, who may include it: layer names or path globs, why,
#  the CMake link items that bring it: a regular expression).
THIRD_PARTY = [
    ("fuse", ["fs/src/fuse_ops.*", "fs/src/fuse_mount.cc"],
     "only the FUSE binding includes libfuse; the vfs is tested without it",
     r"PkgConfig::FUSE3"),
    ("zmq", ["worker/src/server*", "worker/src/replicator*", "worker/src/zap_handler*",
             "client/src/zmq_*", "client/src/direct_calls.*",
             "client/src/connection_watch.*", "client/src/curve_keys.*",
             "cli/src/keygen.cc", "bench"],
     "ZeroMQ stays in the ZeroMQ transports (the worker's server, replicator and "
     "ZAP handler; the client's ZeroMQ transport)", r"cppzmq|PkgConfig::ZMQ"),
    ("zstd", ["worker"], "compression is the worker core's", r"PkgConfig::ZSTD"),
    ("curl/", ["consul"], "HTTP is the Consul library's", r"CURL::"),
    ("nlohmann/", ["consul", "cli"], "JSON is the Consul codec's and shovelctl's",
     r"nlohmann_json::"),
    ("prometheus/", ["worker_metrics", "fs_metrics"],
     "prometheus-cpp stays in the metrics endpoints", r"prometheus-cpp::"),
    ("spdlog/", ["common"], "the one logging library is behind shovel/log.h",
     r"spdlog::"),
    ("systemd/", ["common", "worker_main"], "the journal sink and sd_notify",
     r"PkgConfig::SYSTEMD"),
    ("CLI/", ["cli", "worker_main"], "flags are parsed in main files and shovelctl",
     r"CLI11::"),
    ("readline/", ["cli"], "shovelctl's shell", r".*/libreadline\.[^/]*$"),
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
                for prefix, who, why, _ in THIRD_PARTY:
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


# --- the CMake target graph (cmake/target_graph.cmake writes it) ---

def read_graph(path, root):
    """{target: {"sources": [...], "links": [...], "include": [...]}}; folders
    in the tree as paths from root, others absolute."""
    graph = {}
    root = os.path.realpath(root)
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 3:
                continue
            kind, name, value = parts
            t = graph.setdefault(name, {"sources": [], "links": [], "include": []})
            if kind == "target":
                continue
            items = [v for v in value.split(";") if v]
            if kind == "links":
                # A link made from another folder carries "::@(dir)".
                items = [re.sub(r"::@\(.*\)$", "", v) for v in items]
            if kind == "include":
                rel = []
                for d in items:
                    r = os.path.relpath(os.path.realpath(d), root)
                    rel.append(d if r.startswith("..") else r)
                items = list(dict.fromkeys(rel))
            t[kind] = items
    return graph


def check_graph(root, graph):
    offences = []
    layer_targets = {}   # layer -> its targets
    target_layer = {}
    for name, t in sorted(graph.items()):
        layers = sorted({layer_of(src) or "no layer" for src in t["sources"]})
        if not layers:
            continue
        if len(layers) > 1:
            offences.append(f"cmake: target {name} compiles files of layers "
                            f"{', '.join(layers)}; one target, one layer (LAYERS in "
                            "scripts/check_layers.py follows the CMakeLists)")
            continue
        if layers[0] == "tests":
            continue
        target_layer[name] = layers[0]
        layer_targets.setdefault(layers[0], []).append(name)

    def closure(name):
        seen, todo = set(), [name]
        while todo:
            for dep in graph.get(todo.pop(), {}).get("links", []):
                if dep in graph and dep not in seen:
                    seen.add(dep)
                    todo.append(dep)
        return seen

    # Every source outside tests/ and examples/ (built by its test) is built,
    # in the folders this configuration builds (SHOVEL_BUILD_FS=OFF leaves
    # fs/ out, SHOVEL_BUILD_BENCH=OFF bench/).
    compiled = {src for t in graph.values() for src in t["sources"]}
    built_dirs = {os.path.dirname(src) for src in compiled}
    for path in list_sources(root):
        if (path.endswith((".c", ".cc", ".cpp")) and path not in compiled and
                os.path.dirname(path) in built_dirs and
                layer_of(path) not in (None, "tests", "examples")):
            offences.append(f"cmake: {path} is compiled by no target: a stale file, or a "
                            "CMakeLists.txt that forgot it")

    # Direct links between layers must be rules.
    for name, layer in sorted(target_layer.items()):
        for dep in graph[name]["links"]:
            to = target_layer.get(dep)
            if to is None or to == layer:
                continue
            if to not in ALLOWED.get(layer, {}):
                offences.append(f"cmake: {name} ({layer}) links {dep} ({to}), but ALLOWED "
                                f"does not let {layer} use {to}: drop the link or add the "
                                "rule")

    # Rules must be backed by a link or by the other layer's include/ folder.
    sources = list_sources(root)
    roots = {}  # layer -> include roots of its public headers
    for path in sources:
        if "/include/" in "/" + path:
            head = ("/" + path).split("/include/")[0].lstrip("/")
            roots.setdefault(layer_of(path), set()).add(os.path.join(head, "include")
                                                        if head else "include")
    for layer, rules in sorted(ALLOWED.items()):
        for to in sorted(rules):
            if layer not in layer_targets or to not in layer_targets:
                continue  # not built here (examples), or not a CMake target (tests)
            backed = any(set(layer_targets[to]) & closure(name) or
                         roots.get(to, set()) & set(graph[name]["include"])
                         for name in layer_targets[layer])
            if not backed:
                offences.append(f"cmake: ALLOWED lets {layer} use {to}, but no target of "
                                f"{layer} ({', '.join(layer_targets[layer])}) links one of "
                                f"{to} ({', '.join(layer_targets[to])}) or has its include/ "
                                "folder: drop the rule")

    # Private folders: only a layer's own, or one ALLOWED gives "any" of.
    headers = {}  # folder -> {layer: a header of it directly there}
    for path in sources:
        if path.endswith((".h", ".hpp")):
            headers.setdefault(os.path.dirname(path), {}).setdefault(layer_of(path), path)
    for name, layer in sorted(target_layer.items()):
        for d in graph[name]["include"]:
            if os.path.isabs(d) or d == "include" or d.endswith("/include"):
                continue
            for to, header in sorted(headers.get(d, {}).items()):
                if to != layer and ALLOWED.get(layer, {}).get(to) != ANY:
                    offences.append(f"cmake: {name} ({layer}) has {d}/ on its include path, "
                                    f"the private headers of {to} ({header}); link {to} "
                                    "and include its include/ headers")

    # Package libraries: linked only where their headers may be included.
    for name, layer in sorted(target_layer.items()):
        for dep in graph[name]["links"]:
            for prefix, who, why, link in THIRD_PARTY:
                if not re.fullmatch(link, dep):
                    continue
                owners = {w if not ("/" in w or "*" in w) else layer_of(w.replace("*", "x"))
                          for w in who}
                if layer not in owners:
                    offences.append(f"cmake: {name} ({layer}) links {dep}, whose headers "
                                    f"<{prefix}...> only {', '.join(sorted(owners))} may "
                                    f"include: {why}")
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
    "worker/src/stale.cc": [],
    "tests/worker/store_test.cc": ['"service.h"', "<zmq.hpp>"],
    "tools/new.cc": [],
}
EXPECTED_INCLUDES = [
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


# The fixture's CMake graph, as cmake/target_graph.cmake writes it ("@" is the
# fixture's root): one offence of each kind the graph check reports.
FIXTURE_GRAPH = [
    ("shovel_common", ["common/src/status.cc"], ["spdlog::spdlog"], ["@/common/include"]),
    ("shovel_client", ["client/src/zmq_transport.cc", "client/src/placement.cc"],
     ["shovel_common", "cppzmq", "PkgConfig::ZSTD", "shovel_worker"],
     ["@/client/include", "@/client/src", "@/common/include"]),
    ("shovel_worker", ["worker/src/store.cc"], ["shovel_common", "cppzmq"],
     ["@/worker/include", "@/worker/src", "@/common/include"]),
    ("shovel_worker_consul", ["worker/src/consul_agent_link.cc"], ["shovel_worker"],
     ["@/worker/include", "@/worker/src", "@/common/include", "/usr/include"]),
    ("shovel_vfs", ["fs/src/vfs.cc", "fs/src/fuse_ops.cc"], ["shovel_common"],
     ["@/fs/include", "@/common/include"]),
    ("shovelfs", ["fs/main.cc"], ["shovel_vfs"],
     ["@/fs/include", "@/client/include", "@/common/include"]),
    ("worker_store_test", ["tests/worker/store_test.cc"], ["shovel_worker", "cppzmq"],
     ["@/worker/src", "@/client/src"]),
]
EXPECTED_GRAPH = [
    "cmake: worker/src/stale.cc is compiled by no target",
    "cmake: target shovel_vfs compiles files of layers fuse, vfs",
    "cmake: shovel_client (client) links shovel_worker (worker), but ALLOWED does not "
    "let client use worker",
    "cmake: ALLOWED lets fs_main use worker, but no target of fs_main (shovelfs) links",
    "cmake: shovel_worker_consul (worker_consul) has worker/src/ on its include path, "
    "the private headers of worker (worker/src/service.h)",
    "cmake: shovel_client (client) links PkgConfig::ZSTD, whose headers <zstd...> only "
    "worker may include",
]


def self_test():
    with tempfile.TemporaryDirectory(prefix="shovel-layers-") as root:
        for path, incs in FIXTURE.items():
            os.makedirs(os.path.join(root, os.path.dirname(path)), exist_ok=True)
            with open(os.path.join(root, path), "w", encoding="utf-8") as f:
                f.write("".join(f"#include {i}\n" for i in incs))
        graph_file = os.path.join(root, "build", "target_graph.txt")
        os.makedirs(os.path.dirname(graph_file))
        with open(graph_file, "w", encoding="utf-8") as f:
            for name, srcs, links, incs in FIXTURE_GRAPH:
                incs = [i.replace("@", root, 1) for i in incs]
                f.write(f"target\t{name}\tSTATIC_LIBRARY\n"
                        f"sources\t{name}\t{';'.join(srcs)}\n"
                        f"links\t{name}\t{';'.join(links)}\n"
                        f"include\t{name}\t{';'.join(incs)}\n")
        got = check(root) + check_graph(root, read_graph(graph_file, root))
    EXPECTED = EXPECTED_INCLUDES + EXPECTED_GRAPH
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
    args = argv[1:]
    if args == ["--self-test"]:
        return self_test()
    graph_file = None
    if args[:1] == ["--cmake-graph"] and len(args) >= 2:
        graph_file, args = args[1], args[2:]
    if len(args) > 1 or (args and args[0].startswith("-")):
        print(__doc__, file=sys.stderr)
        return 2
    root = os.path.abspath(args[0] if args else os.path.join(os.path.dirname(__file__), ".."))
    offences = check(root)
    if graph_file:
        if not os.path.isfile(graph_file):
            print(f"{graph_file}: no such file (the build writes it at configure time)",
                  file=sys.stderr)
            return 2
        offences += check_graph(root, read_graph(graph_file, root))
    for o in offences:
        print(o, file=sys.stderr)
    if offences:
        print(f"{len(offences)} offence(s) against the layers (ARCHITECTURE.md, Layers)",
              file=sys.stderr)
        return 1
    checked = [p for p in list_sources(root) if layer_of(p) != "tests"]
    graph_note = (f", and the {len(read_graph(graph_file, root))} CMake targets agree "
                  "with the rules" if graph_file else "")
    print(f"layers: every include of the {len(checked)} files outside tests/ is "
          f"allowed{graph_note}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
