"""Consistency of a kernel's environment, run by its venv's python with the
kernel's modules loaded (the launcher's sys.path order).

What is imported first must satisfy the requirements of what is imported
first: `pip check`, over the distribution found first on sys.path for each
name. A venv distribution next to a module-provided one of another version
is named with both versions and where each comes from. Exit 1 on any
problem, the last line repeating the first one."""
import os
import re
import sys

try:
    from importlib import metadata
except ImportError:  # pragma: no cover - Python < 3.8
    sys.exit("the consistency check needs Python 3.8 or newer")


def packaging_parsers():
    """(Requirement, InvalidRequirement, Version, InvalidVersion) of each
    `packaging` to try, in order: the environment's own when it has the
    fast parser (22 and later), then pip's vendored copy (what `pip check`
    reads with), then an older `packaging`. A requirement only one of them
    reads is read; one none reads is reported."""
    def fast():
        import packaging
        if int(packaging.__version__.split(".")[0]) < 22:
            raise ImportError("packaging " + packaging.__version__ + " parses with pyparsing")
        return plain()

    def vendored():
        from pip._vendor.packaging.requirements import InvalidRequirement, Requirement
        from pip._vendor.packaging.version import InvalidVersion, Version
        return Requirement, InvalidRequirement, Version, InvalidVersion

    def plain():
        from packaging.requirements import InvalidRequirement, Requirement
        from packaging.version import InvalidVersion, Version
        return Requirement, InvalidRequirement, Version, InvalidVersion

    seen = []
    for load in (fast, vendored, plain):
        try:
            parser = load()
        except (ImportError, ValueError):
            continue
        if parser not in seen:  # `plain` is `fast` again when that one loaded
            seen.append(parser)
            yield parser


class Parsers:
    """Loads each parser the first time a requirement needs it."""

    def __init__(self):
        self.pending = packaging_parsers()
        self.loaded = []

    def each(self):
        for parser in self.loaded:
            yield parser
        for parser in self.pending:
            self.loaded.append(parser)
            yield parser

    def requirement(self, line):
        """(requirement, Version, InvalidVersion), or None when no parser reads it."""
        for requirement, invalid_requirement, version, invalid_version in self.each():
            try:
                return requirement(line), version, invalid_version
            except invalid_requirement:
                continue
        return None

    def same_version(self, a, b):
        for _, _, version, invalid_version in self.each():
            try:
                return version(a) == version(b)
            except invalid_version:
                break
        return a == b


PARSERS = Parsers()

if sys.path and sys.path[0] in ("", os.getcwd()):
    del sys.path[0]  # `python -c` and `python -` put the working directory first; the kernel does not


def normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def module_of(path):
    """`SciPy-bundle/2022.05` for a path under a loaded module's EBROOT*, else None."""
    best = None
    for var, root in os.environ.items():
        if var.startswith("EBROOT") and root and (path == root or path.startswith(root.rstrip("/") + "/")):
            if best is None or len(root) > len(best):
                best = root
    if best is None:
        return None
    root = best.rstrip("/")
    return os.path.basename(os.path.dirname(root)) + "/" + os.path.basename(root)


def where(path):
    """(kind, description) of a sys.path entry: venv, module or system."""
    real = os.path.realpath(path)
    if real.startswith(os.path.realpath(sys.prefix) + "/"):
        return "venv", "venv " + path
    pythonpath = [os.path.realpath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    module = module_of(path)
    if real in pythonpath:
        return "module", "module {} on PYTHONPATH {}".format(module or "?", path)
    if module:
        return "module", "module {} in {}".format(module, path)
    return "system", path


def distributions():
    """Every distribution in sys.path order: (normalized name, dist, entry)."""
    found = []
    for entry in sys.path:
        if not os.path.isdir(entry):
            continue
        for dist in metadata.distributions(path=[entry]):
            name = dist.metadata["Name"]
            if name:
                found.append((normalize(name), dist, entry))
    return found


def parse_version(text, version, invalid_version):
    try:
        return version(text)
    except invalid_version:
        return None


def unmet(first):
    """pip check's lines for the distributions imported first."""
    lines = []
    for key in sorted(first):
        dist, _ = first[key]
        name, version = dist.metadata["Name"], dist.version
        for line in dist.requires or []:
            parsed = PARSERS.requirement(line)
            if parsed is None:
                lines.append("{} {} has an unreadable requirement {!r}.".format(name, version, line))
                continue
            req, version_class, invalid_version = parsed
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue  # an extra's requirement, or not for this interpreter/platform
            dep = first.get(normalize(req.name))
            if dep is None:
                lines.append("{} {} requires {}, which is not installed.".format(name, version, req.name))
                continue
            dep_version = parse_version(dep[0].version, version_class, invalid_version)
            if dep_version is None or not req.specifier.contains(dep_version, prereleases=True):
                lines.append("{} {} has requirement {}, but you have {} {}.".format(
                    name, version, req, dep[0].metadata["Name"], dep[0].version))
    return lines


def shadowed(found, first):
    """A venv copy and a module copy of one distribution at different versions."""
    lines = []
    for key in sorted(first):
        copies = [(dist, entry) for k, dist, entry in found if k == key]
        winner, winner_entry = first[key]
        winner_kind, winner_where = where(winner_entry)
        for dist, entry in copies[1:]:
            kind, place = where(entry)
            if {kind, winner_kind} != {"venv", "module"}:
                continue
            if PARSERS.same_version(dist.version, winner.version):
                continue
            lines.append("{} {} ({}) is shadowed by {} {} ({}), which is imported first.".format(
                dist.metadata["Name"], dist.version, place, winner.metadata["Name"], winner.version, winner_where))
    return lines


def main():
    if next(PARSERS.each(), None) is None:
        print("neither pip nor packaging is importable in the venv: cannot read requirements")
        return 1
    found = distributions()
    first = {}
    for key, dist, entry in found:
        first.setdefault(key, (dist, entry))
    print("python {} at {}".format(sys.version.split()[0], sys.executable))
    print("sys.path order:")
    for entry in sys.path:
        print("  " + where(entry)[1])
    problems = unmet(first) + shadowed(found, first)
    print("{} distributions imported first; {} problem(s)".format(len(first), len(problems)))
    if len(problems) > 1:
        for line in problems:
            print(line)
    if problems:
        more = " (and {} more above)".format(len(problems) - 1) if len(problems) > 1 else ""
        print(problems[0] + more)
        return 1
    print("No broken requirements.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
