"""Stand-ins, inside a venv, for the distributions its python sees outside it
(module PYTHONPATH, system site packages), so that `uv pip install` counts
them as installed as pip does: a `.dist-info` with the real METADATA and a
RECORD naming only the stand-in, so that an upgrade removes just that.

`python - add` writes them into the venv's site-packages and names them;
`python - remove` deletes every stand-in left (after the install)."""
import os
import re
import shutil
import sys
import sysconfig
from importlib import metadata

MARK = "hpc-kernels-stand-in\n"
site = sysconfig.get_paths()["purelib"]


def is_stand_in(path):
    try:
        with open(os.path.join(path, "INSTALLER")) as f:
            return f.read() == MARK
    except OSError:
        return False


def normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


if sys.argv[1:] == ["remove"]:
    for entry in os.listdir(site):
        path = os.path.join(site, entry)
        if entry.endswith(".dist-info") and is_stand_in(path):
            shutil.rmtree(path)
    sys.exit(0)

if sys.path and sys.path[0] in ("", os.getcwd()):
    del sys.path[0]  # `python -c` and `python -` put the working directory first; the kernel does not
prefix = os.path.realpath(sys.prefix) + os.sep
in_venv = set()
for dist in metadata.distributions(path=[site]):
    if dist.metadata["Name"]:
        in_venv.add(normalize(dist.metadata["Name"]))
seen = set()
added = []
for dist in metadata.distributions():
    name = dist.metadata["Name"]
    if not name or normalize(name) in seen:
        continue
    seen.add(normalize(name))
    where = os.path.realpath(str(dist.locate_file(""))) + os.sep
    if where.startswith(prefix) or normalize(name) in in_venv:
        continue
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO")
    if not text:
        continue
    folder = "%s-%s.dist-info" % (re.sub(r"[-_.]+", "_", name), dist.version)
    path = os.path.join(site, folder)
    os.makedirs(path, exist_ok=True)
    files = {"METADATA": text, "INSTALLER": MARK}
    files["RECORD"] = "".join("%s/%s,,\n" % (folder, f) for f in ["METADATA", "INSTALLER", "RECORD"])
    for file, content in files.items():
        with open(os.path.join(path, file), "w") as f:
            f.write(content)
    added.append("%s==%s" % (normalize(name), dist.version))
print("installed outside the venv, counted as installed as pip counts them: %s" % (" ".join(added) or "none"))
