#!/usr/bin/env python3
"""Checks docker/ without a Docker engine (none runs on these machines).

What can be checked here is checked:
  - docker/compose.yaml parses (PyYAML, merge keys included) and has services;
  - every service has an image or a build; a build's context and Dockerfile
    exist; a service using the project's image (shoveling:*) has a service
    that builds it;
  - every command a service runs that the project provides (shovel-worker,
    shovelfs, shovelctl) is an add_executable() of the project, and every
    shovel-worker flag used in compose (and in the Dockerfile's CMD) appears
    in `shovel-worker --help` (the binary CMake built);
  - the Dockerfile's runtime packages are Debian 12 package names
    (`apt-cache show`; skipped with a note when apt-cache is missing);
  - the Dockerfile's build-stage packages are all in scripts/deps.sh, and
    they provide every REQUIRED find_package/pkg_check_modules of the
    top-level CMakeLists.txt (`dpkg -S` names the package of each CMake
    config or .pc file);
  - the runtime stage's packages (with their dependencies, `apt-cache
    depends --recurse`) provide every shared library the built binaries load
    (`ldd`, then `dpkg -S`);
  - every service using the project's image has its own `build:` (compose
    pulls an image a service does not build, and shoveling:* is in no
    registry);
  - the build context has a .dockerignore that keeps .git and every build*
    folder out, and what is left is under 64 MiB;
  - the mount point a shovelfs service mounts on is made by the image
    (`mkdir` in the runtime stage) or is a volume of the service;
  - a setting the compose file writes to Consul KV (PREFIX/config/KEY) is not
    also given to a worker as --KEY (KV wins, silently);
  - a worker listening beyond loopback has --key-file and --authorized-keys,
    and a shovelfs or shovelctl service has a key file (CURVE,
    docs/security.md).
Prints one line per problem and exits 1 if there is any; 0 otherwise.
"""
import fnmatch
import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys

import yaml

PROJECT_IMAGE = "shoveling"
PROJECT_COMMANDS = ("shovel-worker", "shovelfs", "shovelctl")


def dockerfile_stages(text):
    """[(stage name, [apt packages], [instructions])] of a Dockerfile."""
    text = re.sub(r"\\\n", " ", text)
    stages = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        word = word.upper()
        if word == "FROM":
            m = re.match(r"(\S+)(?:\s+AS\s+(\S+))?", rest, re.I)
            stages.append({"from": m.group(1), "name": m.group(2) or "", "apt": [],
                           "lines": []})
        elif stages:
            stages[-1]["lines"].append((word, rest))
            if word == "RUN":
                for cmd in rest.split("&&"):
                    words = shlex.split(cmd)
                    if words[:2] == ["apt-get", "install"]:
                        stages[-1]["apt"] += [w for w in words[2:] if not w.startswith("-")]
    return stages


def deps_packages(path):
    text = open(path).read()
    m = re.search(r"PACKAGES=\((.*?)\)", text, re.S)
    return set(m.group(1).split()) if m else set()


def project_executables(repo):
    names = set()
    for root, dirs, files in os.walk(repo):
        dirs[:] = [d for d in dirs if not d.startswith(("build", ".git"))]
        if "CMakeLists.txt" in files:
            text = open(os.path.join(root, "CMakeLists.txt")).read()
            names.update(re.findall(r"add_executable\(\s*([\w.-]+)", text))
    return names


# find_package() names CMake finds with its own Find modules (no config
# file to ask dpkg about): their Debian packages.
MODULE_PACKAGES = {"CURL": "libcurl4-openssl-dev", "PkgConfig": "pkg-config",
                   "Threads": None, "GTest": "libgtest-dev", "Python3": None}
BASE_PACKAGES = {"libc6", "libgcc-s1", "libstdc++6"}  # in debian:12-slim
CONTEXT_LIMIT = 64 << 20


def dpkg_owners(patterns):
    """pattern -> the Debian package with a file matching it (None: none).
    One `dpkg -S` for all: each call reads the whole file database."""
    patterns = list(dict.fromkeys(patterns))
    if not patterns:
        return {}
    r = subprocess.run(["dpkg", "-S"] + patterns, capture_output=True, text=True,
                       timeout=120)
    out = dict.fromkeys(patterns)
    for line in r.stdout.splitlines():
        pkgs, _, path = line.partition(": ")
        for pat in patterns:
            if out[pat] is None and fnmatch.fnmatch(path.strip(), pat):
                out[pat] = pkgs.split(",")[0].split(":")[0].strip()
    return out


def required_packages(repo, notes):
    """Debian packages of the top-level CMakeLists.txt's REQUIRED deps."""
    text = open(os.path.join(repo, "CMakeLists.txt")).read()
    text = re.sub(r"#[^\n]*", "", text)
    # The Dockerfile builds with tests, benchmarks and fuzzers off.
    text = re.sub(r"if\(SHOVEL_BUILD_(TESTS|BENCH|FUZZ)\).*?endif\(\)", "", text, flags=re.S)
    out, wanted = {}, {}
    for m in re.finditer(r"find_package\(\s*([\w.+-]+)([^)]*)\)", text):
        name, rest = m.group(1), m.group(2)
        if "REQUIRED" not in rest:
            continue
        if name in MODULE_PACKAGES:
            if MODULE_PACKAGES[name]:
                out[f"find_package({name})"] = MODULE_PACKAGES[name]
            continue
        wanted[f"find_package({name})"] = [f"*/{name}Config.cmake",
                                           f"*/{name.lower()}-config.cmake"]
    for m in re.finditer(r"pkg_check_modules\(\s*\w+([^)]*)\)", text):
        words = m.group(1).split()
        if "REQUIRED" not in words:
            continue
        for module in [w for w in words if w not in ("REQUIRED", "IMPORTED_TARGET")]:
            wanted[f"pkg-config {module}"] = [f"*/pkgconfig/{module}.pc"]
    owners = dpkg_owners([p for pats in wanted.values() for p in pats])
    for what, pats in wanted.items():
        out[what] = next((owners[p] for p in pats if owners.get(p)), None)
    return out


def shared_library_packages(binaries, problems):
    """package -> [libraries] for every shared library the binaries load."""
    libs = {}  # path -> the binary that loads it
    for b in binaries:
        r = subprocess.run(["ldd", b], capture_output=True, text=True, timeout=60)
        for line in r.stdout.splitlines():
            m = re.search(r"=>\s*(/\S+)", line)
            if m:
                libs.setdefault(m.group(1), b)
    # usrmerge: dpkg knows a library by /lib/... or /usr/lib/..., and the
    # link name or the file it points to.
    def names(path):
        real = os.path.realpath(path)
        base = [path, real]
        return ["*" + re.sub(r"^/usr", "", p) for p in base]
    owners = dpkg_owners([n for p in libs for n in names(p)])
    out = {}
    for path, b in libs.items():
        if not re.match(r"/(usr/)?lib", path):
            continue  # from the build tree (a sanitizer build's helper), not the image
        pkg = next((owners[n] for n in names(path) if owners.get(n)), None)
        if pkg and re.match(r"lib(a|ub|t|l)san\d", pkg):
            continue  # a sanitizer build's runtime; the image builds Release
        if pkg is None:
            problems.append(f"{b}: loads {path}, which no Debian package provides")
            continue
        out.setdefault(pkg, []).append(os.path.basename(path))
    return out


def apt_closure(packages):
    r = subprocess.run(["apt-cache", "depends", "--recurse", "--no-recommends",
                        "--no-suggests", "--no-conflicts", "--no-breaks", "--no-replaces",
                        "--no-enhances"] + list(packages),
                       capture_output=True, text=True, timeout=300)
    return {line.strip() for line in r.stdout.splitlines()
            if line and not line.startswith(" ") and not line.startswith("<")}


def ignored(rel, patterns):
    """Whether .dockerignore `patterns` exclude the context path `rel`."""
    parts = rel.split("/")
    for pat in patterns:
        pat = pat.strip("/")
        for i in range(1, len(parts) + 1):
            prefix = "/".join(parts[:i])
            if fnmatch.fnmatch(prefix, pat) or (pat.startswith("**/") and
                                                fnmatch.fnmatch(parts[i - 1], pat[3:])):
                return True
    return False


def check_context(context, problems):
    path = os.path.join(context, ".dockerignore")
    if not os.path.isfile(path):
        problems.append(f"build context {context} has no .dockerignore: build trees and "
                        ".git go into every build")
        return
    patterns = [l.strip() for l in open(path) if l.strip() and not l.startswith("#")]
    for name in os.listdir(context):
        if (name == ".git" or name.startswith("build")) and not ignored(name, patterns):
            problems.append(f"{path} does not exclude {name}")
    total = 0
    for root, dirs, files in os.walk(context):
        rel_root = os.path.relpath(root, context)
        rel = lambda n: n if rel_root == "." else rel_root + "/" + n
        dirs[:] = [d for d in dirs if not ignored(rel(d), patterns)]
        for f in files:
            if not ignored(rel(f), patterns):
                try:
                    total += os.lstat(os.path.join(root, f)).st_size
                except OSError:
                    pass
    if total > CONTEXT_LIMIT:
        problems.append(f"build context {context}: {total >> 20} MiB after .dockerignore "
                        f"(more than {CONTEXT_LIMIT >> 20} MiB: what else should it exclude?)")


def positional(argv):
    """shovelfs's positional arguments (SOURCE, MOUNTPOINT)."""
    out, skip = [], False
    for w in argv[1:]:
        if skip:
            skip = False
        elif w in ("-o", "--log-file", "--log-level"):
            skip = True
        elif not w.startswith("-"):
            out.append(w)
    return out


def has_option(argv, flag, opt_key, env, env_name):
    if flag in argv or any(w.startswith(flag + "=") for w in argv):
        return True
    for i, w in enumerate(argv):
        opts = argv[i + 1] if w == "-o" and i + 1 < len(argv) else (
            w[2:] if w.startswith("-o") and len(w) > 2 else "")
        if any(o.startswith(opt_key + "=") for o in opts.split(",")):
            return True
    return env_name in env


def loopback(endpoint):
    host = re.sub(r"^tcp://", "", endpoint).rsplit(":", 1)[0]
    return host in ("localhost", "::1", "[::1]") or host.startswith("127.")


def as_list(value):
    if value is None:
        return []
    if isinstance(value, str):
        return shlex.split(value)
    return [str(v) for v in value]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", required=True)
    ap.add_argument("--worker-bin", required=True)
    ap.add_argument("--binary", action="append",
                    help="another installed binary whose libraries the image needs")
    args = ap.parse_args()
    problems, notes = [], []
    docker_dir = os.path.join(args.repo, "docker")
    compose_path = os.path.join(docker_dir, "compose.yaml")
    dockerfile_path = os.path.join(docker_dir, "Dockerfile")

    try:
        compose = yaml.safe_load(open(compose_path))
    except (OSError, yaml.YAMLError) as e:
        print(f"{compose_path}: does not parse: {e}")
        return 1
    services = (compose or {}).get("services") or {}
    if not services:
        problems.append(f"{compose_path}: no services")

    stages = dockerfile_stages(open(dockerfile_path).read())
    final = stages[-1] if stages else {"lines": [], "apt": []}
    entrypoint = cmd = []
    for word, rest in final["lines"]:
        if word == "ENTRYPOINT":
            entrypoint = as_list(yaml.safe_load(rest))
        if word == "CMD":
            cmd = as_list(yaml.safe_load(rest))

    help_text = subprocess.run([args.worker_bin, "--help"], capture_output=True,
                               text=True, timeout=30).stdout
    executables = project_executables(args.repo)
    builders = set()
    contexts = set()
    for name, svc in services.items():
        build = svc.get("build")
        if build:
            if isinstance(build, str):
                build = {"context": build}
            context = os.path.normpath(os.path.join(docker_dir, build.get("context", ".")))
            dockerfile = os.path.join(context, build.get("dockerfile", "Dockerfile"))
            if not os.path.isdir(context):
                problems.append(f"service {name}: build context {context} does not exist")
            if not os.path.isfile(dockerfile):
                problems.append(f"service {name}: Dockerfile {dockerfile} does not exist")
            contexts.add(context)
            if svc.get("image"):
                builders.add(svc["image"])
        elif not svc.get("image"):
            problems.append(f"service {name}: neither image nor build")
    for name, svc in services.items():
        image = svc.get("image", "")
        ours = image.split(":")[0] == PROJECT_IMAGE
        if ours and not svc.get("build"):
            problems.append(f"service {name}: uses {image} but has no build: (compose "
                            "would pull it from a registry, where it does not exist)")
        if not ours:
            continue
        argv = as_list(svc.get("entrypoint")) or entrypoint
        argv = argv + (as_list(svc.get("command")) if "command" in svc else cmd)
        check_command(f"service {name}", argv, executables, help_text, problems)
        check_service(name, svc, argv, final, problems)
    check_kv_overrides(services, entrypoint, cmd, problems)
    for context in sorted(contexts):
        check_context(context, problems)
    check_command("Dockerfile ENTRYPOINT/CMD", entrypoint + cmd, executables, help_text,
                  problems)

    deps = deps_packages(os.path.join(args.repo, "scripts", "deps.sh"))
    build_apt = set()
    for stage in stages[:-1]:
        build_apt.update(stage["apt"])
        missing = [p for p in stage["apt"] if p not in deps]
        if missing:
            problems.append(f"Dockerfile build stage installs {missing}, not in scripts/deps.sh")
    if shutil.which("apt-cache") and shutil.which("dpkg"):
        r = subprocess.run(["apt-cache", "show", "--no-all-versions"] + final["apt"],
                           capture_output=True, text=True, timeout=120)
        known = set(re.findall(r"^Package: (\S+)", r.stdout, re.M))
        for pkg in final["apt"]:
            if pkg not in known:
                problems.append(f"Dockerfile runtime package {pkg} is not a Debian package here")
        for what, pkg in required_packages(args.repo, notes).items():
            if pkg is None:
                problems.append(f"CMakeLists.txt {what}: no installed Debian package "
                                "provides it (dpkg -S), so the image cannot be checked")
            elif pkg not in build_apt:
                problems.append(f"Dockerfile build stage lacks {pkg} (CMakeLists.txt {what})")
        closure = apt_closure(final["apt"]) | BASE_PACKAGES
        libs = shared_library_packages([args.worker_bin] + (args.binary or []), problems)
        for pkg, names in sorted(libs.items()):
            if pkg not in closure:
                problems.append(f"Dockerfile runtime stage lacks {pkg} ({', '.join(sorted(set(names)))}"
                                " loaded by the binaries)")
    else:
        notes.append("apt-cache or dpkg not found: Debian packages not checked")

    for n in notes:
        print("note:", n)
    for p in problems:
        print(p)
    if not problems:
        print(f"docker/: {len(services)} services, {len(stages)} Dockerfile stages: OK "
              "(checked statically; not run: no Docker engine here)")
    return 1 if problems else 0


def check_service(name, svc, argv, final, problems):
    """The mount point, and CURVE keys, of one service of the project's image."""
    program = os.path.basename(argv[0]) if argv else ""
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) if "=" in e else (e, "") for e in env)
    if program == "shovelfs":
        args = positional(argv)
        mountpoint = args[-1] if args else None
        made = any(word == "RUN" and "mkdir" in rest and
                   re.search(r"(^|\s)" + re.escape(mountpoint or "\0") + r"(\s|$)", rest)
                   for word, rest in final["lines"])
        volumes = [str(v).split(":")[1] for v in svc.get("volumes") or [] if ":" in str(v)]
        if mountpoint and not made and mountpoint not in volumes:
            problems.append(f"service {name}: mount point {mountpoint} does not exist in the "
                            "image (no mkdir in the Dockerfile, no volume)")
        if not has_option(argv, "--key-file", "key_file", env, "SHOVEL_KEY_FILE"):
            problems.append(f"service {name}: shovelfs without a key (-o key_file=)")
    if program == "shovelctl" and "keygen" not in argv:
        if not has_option(argv, "--key-file", "key_file", env, "SHOVEL_KEY_FILE"):
            problems.append(f"service {name}: shovelctl without --key-file")
    if program == "shovel-worker":
        listen = [argv[i + 1] for i, w in enumerate(argv[:-1]) if w == "--listen"]
        if any(not loopback(l) for l in listen) and not (
                "--key-file" in argv and "--authorized-keys" in argv):
            problems.append(f"service {name}: worker listens on {listen[0]} without "
                            "--key-file and --authorized-keys (CURVE)")


def check_kv_overrides(services, entrypoint, cmd, problems):
    """A KV setting written by the compose file must not shadow a worker flag."""
    kv = set()
    for svc in services.values():
        parts = as_list(svc.get("entrypoint"))
        c = svc.get("command")
        parts += [str(x) for x in c] if isinstance(c, list) else ([str(c)] if c else [])
        kv.update(re.findall(r"consul\s+kv\s+put\s+\S*?/config/([\w-]+)", " ".join(parts)))
    for name, svc in services.items():
        if str(svc.get("image", "")).split(":")[0] != PROJECT_IMAGE:
            continue
        argv = as_list(svc.get("entrypoint")) or entrypoint
        argv = argv + (as_list(svc.get("command")) if "command" in svc else cmd)
        if not argv or os.path.basename(argv[0]) != "shovel-worker":
            continue
        for key in sorted(kv):
            if "--" + key in argv:
                problems.append(f"service {name}: --{key} is overridden by the Consul KV "
                                f"key .../config/{key} the compose file writes (KV wins)")


def check_command(where, argv, executables, help_text, problems):
    if not argv:
        return
    program = os.path.basename(argv[0])
    if program in PROJECT_COMMANDS and program not in executables:
        problems.append(f"{where}: runs {program}, which the project does not build")
    if program != "shovel-worker":
        return
    for word in argv[1:]:
        if word.startswith("--"):
            flag = word.split("=", 1)[0]
            if not re.search(re.escape(flag) + r"\b", help_text):
                problems.append(f"{where}: shovel-worker has no flag {flag}")


if __name__ == "__main__":
    sys.exit(main())
