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
  - the Dockerfile's build-stage packages are all in scripts/deps.sh.
Prints one line per problem and exits 1 if there is any; 0 otherwise.
"""
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
            if svc.get("image"):
                builders.add(svc["image"])
        elif not svc.get("image"):
            problems.append(f"service {name}: neither image nor build")
    for name, svc in services.items():
        image = svc.get("image", "")
        ours = image.split(":")[0] == PROJECT_IMAGE
        if ours and not svc.get("build") and image not in builders:
            problems.append(f"service {name}: image {image} is built by no service")
        if not ours:
            continue
        argv = as_list(svc.get("entrypoint")) or entrypoint
        argv = argv + (as_list(svc.get("command")) if "command" in svc else cmd)
        check_command(f"service {name}", argv, executables, help_text, problems)
    check_command("Dockerfile ENTRYPOINT/CMD", entrypoint + cmd, executables, help_text,
                  problems)

    deps = deps_packages(os.path.join(args.repo, "scripts", "deps.sh"))
    for stage in stages[:-1]:
        missing = [p for p in stage["apt"] if p not in deps]
        if missing:
            problems.append(f"Dockerfile build stage installs {missing}, not in scripts/deps.sh")
    if shutil.which("apt-cache"):
        for pkg in final["apt"]:
            r = subprocess.run(["apt-cache", "show", pkg], capture_output=True, timeout=60)
            if r.returncode != 0 or not r.stdout:
                problems.append(f"Dockerfile runtime package {pkg} is not a Debian package here")
    else:
        notes.append("apt-cache not found: runtime package names not checked")

    for n in notes:
        print("note:", n)
    for p in problems:
        print(p)
    if not problems:
        print(f"docker/: {len(services)} services, {len(stages)} Dockerfile stages: OK "
              "(checked statically; not run: no Docker engine here)")
    return 1 if problems else 0


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
