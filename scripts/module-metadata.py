#!/usr/bin/env python3
"""Print the real METADATA (Requires-Dist, Requires-Python) of PyPI releases as
JSON lines, for containers/overlay.json's module packages:

    scripts/module-metadata.py pandas==1.4.2 numpy==1.22.3

Takes a Linux x86_64 wheel for CPython 3.10 (the modules' interpreter) when
there is one, else a pure-Python wheel. Reads the PEP 658 `.metadata` file when
the index has it, else only the METADATA member of the wheel, through HTTP
range requests (central directory, then that one entry), never the whole wheel.
Packages EasyBuild builds from source may differ from the wheel: check the
package's setup.py (e.g. torch's PyPI wheels add nvidia-* requirements that a
source build does not have).
"""
import email.parser
import json
import re
import struct
import subprocess
import sys
import urllib.request
import zlib

from pip._vendor.packaging.version import Version


def get(url, accept=None):
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    return urllib.request.urlopen(request, timeout=60).read()


def byte_range(url, start, end):
    return subprocess.run(["curl", "-sSf", "--max-time", "60", "-r", f"{start}-{end}", url],
                          check=True, capture_output=True).stdout


def size_of(url):
    head = subprocess.run(["curl", "-sSfI", "--max-time", "30", url], check=True, capture_output=True, text=True).stdout
    return next(int(l.split(":")[1]) for l in head.splitlines() if l.lower().startswith("content-length:"))


def metadata_by_range(url):
    size = size_of(url)
    tail = byte_range(url, max(0, size - 65536), size - 1)
    end = tail.rfind(b"PK\x05\x06")
    cd_size, cd_offset = struct.unpack("<II", tail[end + 12:end + 20])
    if cd_offset == 0xFFFFFFFF:
        end64 = tail.rfind(b"PK\x06\x06")
        cd_size, cd_offset = struct.unpack("<QQ", tail[end64 + 40:end64 + 56])
    directory = byte_range(url, cd_offset, cd_offset + cd_size - 1)
    at = 0
    while at < len(directory):
        method, = struct.unpack("<H", directory[at + 10:at + 12])
        compressed, = struct.unpack("<I", directory[at + 20:at + 24])
        name_len, extra_len, comment_len = struct.unpack("<HHH", directory[at + 28:at + 34])
        offset, = struct.unpack("<I", directory[at + 42:at + 46])
        name = directory[at + 46:at + 46 + name_len].decode()
        if name.endswith(".dist-info/METADATA") and name.count("/") == 1:
            local = byte_range(url, offset, offset + 30 + 1024 + compressed)
            skip = 30 + sum(struct.unpack("<HH", local[26:30]))
            data = local[skip:skip + compressed]
            return (zlib.decompress(data, -15) if method == 8 else data).decode()
        at += 46 + name_len + extra_len + comment_len
    raise SystemExit(f"{url}: no METADATA")


def record(name, version):
    project = re.sub(r"[-_.]+", "-", name).lower()
    index = json.loads(get(f"https://pypi.org/simple/{project}/", "application/vnd.pypi.simple.v1+json"))
    wanted = Version(version)
    wheels = []
    for file in index["files"]:
        parts = file["filename"].split("-")
        if file["filename"].endswith(".whl") and len(parts) >= 5:
            try:
                if Version(parts[1]) == wanted:
                    wheels.append(file)
            except ValueError:
                pass
    if not wheels:
        return {"name": name, "version": version, "error": "no wheel; read PKG-INFO of the sdist"}
    fit = lambda f: ("cp310" in f["filename"]) * 2 + ("py3-none-any" in f["filename"] or "py2.py3-none-any" in f["filename"]) * 2 + ("manylinux" in f["filename"] and "x86_64" in f["filename"])
    wheel = max(wheels, key=fit)
    text = get(wheel["url"] + ".metadata").decode() if wheel.get("core-metadata") else metadata_by_range(wheel["url"])
    meta = email.parser.Parser().parsestr(text)
    return {"name": meta["Name"], "version": meta["Version"], "requires_dist": meta.get_all("Requires-Dist") or [],
            "requires_python": meta.get("Requires-Python"), "from": wheel["filename"]}


if __name__ == "__main__":
    for argument in sys.argv[1:]:
        name, _, version = argument.partition("==")
        print(json.dumps(record(name, version)))
