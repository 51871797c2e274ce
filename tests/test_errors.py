"""Every exception class sloguard defines is in the tree documented in ``sloguard.errors``."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import sloguard
from sloguard import errors

#: A public exception outside the tree on purpose; the errors docstring says why. (Private ones,
#: named with a leading underscore, never leave their module and are not listed.)
OUTSIDE = "commands.workload.WorkerError"
#: A row of the documented tree: ``├── Name (AlsoBase)   module   meaning``.
ROW = re.compile(r"^    [│├└─ ]*(?P<name>[A-Z]\w+)(?: \(\w+\))?\s+(?P<module>[a-z][\w.]*)\s{2,}")


def defined_exceptions() -> dict[str, type[BaseException]]:
    """``module.Class`` (relative to ``sloguard.``) of every exception class in the package."""
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(sloguard.__path__, "sloguard."):
        if info.name == "sloguard.__main__":  # runs the command line
            continue
        try:
            module = importlib.import_module(info.name)
        except errors.MissingExtra:  # an optional dependency is not installed here
            continue
        for obj in vars(module).values():
            if (
                inspect.isclass(obj)
                and issubclass(obj, BaseException)
                and obj.__module__ == module.__name__
            ):
                found[f"{module.__name__.removeprefix('sloguard.')}.{obj.__qualname__}"] = obj
    return found


def documented() -> dict[str, str | None]:
    """``module.Class`` of every row of the documented tree, with the row it hangs from."""
    rows: dict[str, str | None] = {}
    parents: list[tuple[int, str]] = []  # (column of the name, row) of the rows above
    for line in (errors.__doc__ or "").splitlines():
        if (m := ROW.match(line)) is None:
            continue
        name = f"{m['module']}.{m['name']}"
        while parents and parents[-1][0] >= m.start("name"):
            parents.pop()
        rows[name] = parents[-1][1] if parents else None
        parents.append((m.start("name"), name))
    return rows


def test_every_public_exception_is_a_documented_sloguard_error() -> None:
    found = defined_exceptions()
    assert OUTSIDE in found  # it still exists (else update the docstring)
    in_tree = {
        name: cls
        for name, cls in found.items()
        if name != OUTSIDE and not name.rsplit(".", 1)[1].startswith("_")
    }
    assert {n for n, cls in in_tree.items() if not issubclass(cls, errors.SloguardError)} == set()
    tree = documented()
    assert set(tree) == set(in_tree)
    for name, parent in tree.items():
        if parent is not None:
            assert issubclass(in_tree[name], in_tree[parent]), f"{name} is not a {parent}"


def test_the_exception_outside_the_tree_is_explained() -> None:
    assert f"``{OUTSIDE}``" in (errors.__doc__ or "")
