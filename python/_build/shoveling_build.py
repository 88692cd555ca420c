"""PEP 517 build backend for the pure-Python `shoveling` package.

Standard library only, so `pip install --no-index ./python` works offline
with any Python 3.8+ and its pip: the machine's default `python3` (which
may have no `wheel` package: setuptools before 70.1 then fails with
"invalid command 'bdist_wheel'") as well as Debian's /usr/bin/python3, in a
venv or not. It writes only into the directories pip gives it, never into
the source tree (setuptools left build/ and shoveling.egg-info there).

The metadata comes from pyproject.toml's [project] table (name, version,
description, requires-python, license, classifiers) and README.md.
"""

import base64
import hashlib
import io
import os
import re
import tarfile
import zipfile

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_PACKAGE = "shoveling"
_TAG = "py3-none-any"


def _project():
    """The [project] fields this backend uses (a tiny TOML subset reader)."""
    with open(os.path.join(_ROOT, "pyproject.toml"), encoding="utf-8") as f:
        text = f.read()
    section = re.search(r"^\[project\]\n(.*?)(?=^\[|\Z)", text, re.M | re.S).group(1)

    def field(name):
        m = re.search(r'^%s\s*=\s*"([^"]*)"' % re.escape(name), section, re.M)
        return m.group(1) if m else None

    classifiers = re.search(r"^classifiers\s*=\s*\[(.*?)\]", section, re.M | re.S)
    lic = re.search(r'^license\s*=\s*\{\s*text\s*=\s*"([^"]*)"', section, re.M)
    return {
        "name": field("name"),
        "version": field("version"),
        "summary": field("description"),
        "requires_python": field("requires-python"),
        "license": lic.group(1) if lic else None,
        "classifiers": re.findall(r'"([^"]+)"', classifiers.group(1)) if classifiers else [],
    }


def _dist_info_name(p):
    return "%s-%s.dist-info" % (p["name"].replace("-", "_"), p["version"])


def _metadata(p):
    lines = ["Metadata-Version: 2.1", "Name: " + p["name"], "Version: " + p["version"]]
    if p["summary"]:
        lines.append("Summary: " + p["summary"])
    if p["license"]:
        lines.append("License: " + p["license"])
    lines += ["Classifier: " + c for c in p["classifiers"]]
    if p["requires_python"]:
        lines.append("Requires-Python: " + p["requires_python"])
    lines.append("Description-Content-Type: text/markdown")
    with open(os.path.join(_ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    return "\n".join(lines) + "\n\n" + readme


def _wheel_file():
    return ("Wheel-Version: 1.0\nGenerator: shoveling_build\n"
            "Root-Is-Purelib: true\nTag: %s\n" % _TAG)


def _package_files():
    """(archive name, path) of every file the package installs."""
    src = os.path.join(_ROOT, _PACKAGE)
    out = []
    for name in sorted(os.listdir(src)):
        path = os.path.join(src, name)
        if not os.path.isfile(path):
            continue  # __pycache__ and the like
        if name.endswith(".py") or name == "py.typed" or name.startswith("libshovel.so"):
            out.append((_PACKAGE + "/" + name, path))
    return out


def _record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "%s,sha256=%s,%d" % (name, digest.decode("ascii"), len(data))


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    p = _project()
    info = _dist_info_name(p)
    os.makedirs(os.path.join(metadata_directory, info), exist_ok=True)
    with open(os.path.join(metadata_directory, info, "METADATA"), "w", encoding="utf-8") as f:
        f.write(_metadata(p))
    with open(os.path.join(metadata_directory, info, "WHEEL"), "w", encoding="utf-8") as f:
        f.write(_wheel_file())
    return info


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    p = _project()
    info = _dist_info_name(p)
    wheel_name = "%s-%s-%s.whl" % (p["name"].replace("-", "_"), p["version"], _TAG)
    record = []
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel_name), "w",
                         zipfile.ZIP_DEFLATED) as whl:
        def add(name, data):
            whl.writestr(name, data)
            record.append(_record_line(name, data))

        for name, path in _package_files():
            with open(path, "rb") as f:
                add(name, f.read())
        add(info + "/METADATA", _metadata(p).encode("utf-8"))
        add(info + "/WHEEL", _wheel_file().encode("utf-8"))
        record.append(info + "/RECORD,,")
        whl.writestr(info + "/RECORD", "\n".join(record) + "\n")
    return wheel_name


def build_sdist(sdist_directory, config_settings=None):
    p = _project()
    base = "%s-%s" % (p["name"], p["version"])
    name = base + ".tar.gz"
    files = [("pyproject.toml", os.path.join(_ROOT, "pyproject.toml")),
             ("README.md", os.path.join(_ROOT, "README.md")),
             ("_build/shoveling_build.py", os.path.abspath(__file__))]
    files += [(n, path) for n, path in _package_files() if not n.split("/")[-1].startswith("lib")]
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz") as tar:
        for arc, path in files:
            tar.add(path, arcname=base + "/" + arc)
        pkg_info = _metadata(p).encode("utf-8")
        ti = tarfile.TarInfo(base + "/PKG-INFO")
        ti.size = len(pkg_info)
        tar.addfile(ti, io.BytesIO(pkg_info))
    return name
