"""The distributions a venv's python sees, the first of each name on sys.path
(what pip counts as installed): `name==version` lines into argv[1], and those
outside the venv (module PYTHONPATH, system site packages) into argv[2]."""
import os
import re
import sys
from importlib import metadata

if sys.path and sys.path[0] in ("", os.getcwd()):
    del sys.path[0]
prefix = os.path.realpath(sys.prefix) + os.sep
seen = set()
every, outside = [], []
for dist in metadata.distributions():
    name = dist.metadata["Name"]
    if not name:
        continue
    key = re.sub(r"[-_.]+", "-", name).lower()
    if key in seen:
        continue
    seen.add(key)
    line = "%s==%s\n" % (key, dist.version)
    every.append(line)
    where = os.path.realpath(str(dist.locate_file("")))
    if not (where + os.sep).startswith(prefix):
        outside.append(line)
with open(sys.argv[1], "w") as f:
    f.writelines(every)
with open(sys.argv[2], "w") as f:
    f.writelines(outside)
