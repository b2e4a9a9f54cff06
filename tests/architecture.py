"""The house's rules, checked on the syntax tree of every production module.

Why a checker of our own instead of reading ``import`` lines: a line scan sees ``import time`` but not
``from .. import server`` (a relative import of a package above), ``importlib.import_module("time")``
or ``__import__("os")`` (dynamic imports), nor ``open(...)`` (I/O with no import at all). This module
resolves every relative import to an absolute module name, treats every dynamic import as an import
(resolved when its name is a constant, a violation when it is not), and looks at names, attributes
and calls as well as imports. ``tests/test_architecture.py`` plants each trick in a tree and asserts
that the check fails on it, then that the real tree passes.

The rules (``check(root)`` returns every breach, with file and line):

``direction``
    Imports point ``server -> signaling -> rooms``: ``rooms`` imports neither ``signaling`` nor
    ``server``; ``signaling`` never imports ``server``; no production package imports ``tests`` or
    ``bench``; only ``server/media/`` imports the media libraries (aiortc, aioice, av, pylibsrtp).
``dynamic-import``
    ``importlib``, ``runpy``, ``imp``, ``zipimport``, ``pkgutil.resolve_name``, ``__import__`` and
    ``sys.modules`` lookups count as imports of the module they name. One whose name is not a
    constant string cannot be checked, so it is a breach; so is the machinery handed around instead
    of called (``load = importlib.import_module``, ``sys.modules`` or ``__builtins__`` as a value,
    ``getattr(sys, "modules")``). ``exec``, ``eval`` and ``compile`` run code no checker reads, so
    they are breaches too.
``purity`` (``rooms/`` only)
    ``rooms`` does no I/O and reads no clock: time is an argument, timers are data. It may import
    only itself and ``ROOMS_STDLIB``, modules that compute on values handed to them; an allow-list,
    because a block-list misses the next I/O module (``shutil``, ``tempfile``, ``sqlite3``,
    ``zoneinfo`` reads tzdata files...). That alone keeps out ``time``, ``datetime`` (``now``),
    ``random``/``secrets``/``uuid`` (entropy), ``os``/``pathlib``/``io``/``sys`` (files, environment,
    streams), ``socket``/``asyncio``/``threading``/``subprocess``/``signal``, ``logging``, and every
    third-party library. Built-ins that do I/O or reach around the import rules are breaches by
    name, called or not (``ROOMS_FORBIDDEN_BUILTINS``): ``open``, ``print`` (stdout is I/O: the domain
    returns events, the edge speaks), ``input``, ``breakpoint``, ``help``, ``exit``/``quit``, and
    ``globals``/``locals``/``vars``/``__builtins__`` (a way to the built-ins by string). So are the
    attributes of the classic sandbox escape (``().__class__.__base__.__subclasses__()`` then a
    function's ``__globals__``), ``ROOMS_FORBIDDEN_ATTRIBUTES``, as attributes or as strings.
    ``rooms`` defines no coroutine either (``async def``, ``await``, ``async for``/``with``, async
    comprehensions): a rule that has to wait is waiting on I/O, and an async interface (a store, a
    gateway) is a port, which ``signaling`` owns (``signaling/ports.py``, ``signaling/store.py``) and
    ``server`` implements.
``private``
    Only ``server/media/seam/`` reads library internals. The checker cannot know an object's type,
    so the heuristic over-approximates: outside ``seam/``, production code reads no ``_``-prefixed,
    non-dunder attribute of any object it does not own, where owning means ``self.x``, ``cls.x`` or
    ``super().x`` (an attribute of ``self.x`` is *not* owned: ``self._pc._sctp`` is a breach). It
    covers ``getattr``/``setattr``/``hasattr``/``delattr``/``attrgetter``/``methodcaller`` and the
    ``__getattribute__`` family with a constant ``_`` name, ``obj.__dict__["_x"]`` and
    ``vars(obj)["_x"]``, and ``from aiortc.x import _y`` or ``from pylibsrtp._binding import``. An
    attribute name computed at run time cannot be checked, so ``getattr`` with a non-constant name is
    a breach outside ``seam/`` except in ``DYNAMIC_ATTRIBUTE_MODULES``; python-socketio's internals
    have their own fence, ``PRIVATE_ALLOWED`` (``signaling/sockets.py``, pinned by
    ``tests/signaling/test_sockets.py``). ``tests/`` and ``bench/`` are not production: tests pin the
    seam by reaching into it, benches measure it.

What it cannot see: an object of a library handed to a module at run time and used only through
public names, or a private name reached through an owned alias (``self.x = other; self.x._y`` is a
breach, ``x = self; x._y`` is not). The rules above make both deliberate acts rather than accidents.

Run it alone with ``python -m tests.architecture``.
"""

from __future__ import annotations

import ast
import builtins
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("rooms", "signaling", "server")
SEAM = ("server", "media", "seam")
MEDIA_PACKAGE = ("server", "media")
MEDIA_LIBRARIES = frozenset({"aiortc", "aioice", "av", "pylibsrtp"})
NOT_PRODUCTION = frozenset({"tests", "bench"})
ROOMS_STDLIB = frozenset(
    {
        "__future__",
        "abc",
        "bisect",
        "collections",
        "copy",
        "dataclasses",
        "enum",
        "functools",
        "hashlib",
        "heapq",
        "itertools",
        "math",
        "operator",
        "re",
        "statistics",
        "types",
        "typing",
    }
)
ROOMS_FORBIDDEN_BUILTINS = frozenset(
    {
        "open",
        "print",
        "input",
        "breakpoint",
        "help",
        "exit",
        "quit",
        "globals",
        "locals",
        "vars",
        "__builtins__",
        "__import__",
        "__loader__",
        "__spec__",
    }
)
ROOMS_FORBIDDEN_ATTRIBUTES = frozenset(
    {
        "__builtins__",
        "__subclasses__",
        "__globals__",
        "__code__",
        "__closure__",
        "__loader__",
        "__spec__",
        "__import__",
        "__getattribute__",
        "f_globals",
        "f_locals",
        "f_builtins",
        "f_back",
        "gi_frame",
        "cr_frame",
        "ag_frame",
        "tb_frame",
    }
)
# Coroutines and what only a coroutine can do: none of them belongs in the pure domain.
ASYNC_NODES = (ast.AsyncFunctionDef, ast.Await, ast.AsyncFor, ast.AsyncWith)
UNREADABLE_CODE = frozenset({"builtins.exec", "builtins.eval", "builtins.compile"})
# Module objects that import by name: used only as ``importlib.import_module(...)``, never handed on.
MACHINERY = frozenset({"importlib", "importlib.util", "runpy", "imp", "zipimport", "builtins", "sys.modules"})
# Attribute names that fetch an import function or the module table: ``getattr(x, "import_module")``.
MACHINERY_NAMES = frozenset({"import_module", "__import__", "modules", "exec", "eval", "compile", "__builtins__"})
IMPORT_MODULES = ("importlib", "runpy", "imp", "zipimport")
NAMED_IMPORTS = frozenset(
    {
        "builtins.__import__",
        "importlib.import_module",
        "importlib.__import__",
        "importlib.util.find_spec",
        "runpy.run_module",
        "pkgutil.resolve_name",
        "sys.modules.get",
        "sys.modules.pop",
        "sys.modules.setdefault",
    }
)
ATTRIBUTE_FUNCTIONS = frozenset(
    {
        "getattr",
        "setattr",
        "hasattr",
        "delattr",
        "attrgetter",
        "methodcaller",
        "__getattribute__",
        "__getattr__",
        "__setattr__",
        "__delattr__",
    }
)
# Modules that read attributes by a name known only at run time, and why that is not a reach inside.
DYNAMIC_ATTRIBUTE_MODULES = {
    "server/timed_store.py": "wraps each public store method by the name the store protocol gives",
    "server/config.py": "reads argparse's namespace by the settings' field names",
    "server/logs.py": "copies a log record's extra fields by their names",
}
# (module, attribute) pairs of other libraries' internals, each fenced in one module with its pin.
PRIVATE_ALLOWED = {
    "signaling/sockets.py": frozenset({"_send_eio_packet", "_send_packet", "_get_socket"}),
}


@dataclass(frozen=True, order=True)
class Breach:
    path: str
    line: int
    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: [{self.rule}] {self.detail}"


@dataclass(frozen=True)
class Module:
    """A production module: where it lives, its dotted name, and the package its relative imports start from."""

    path: str
    name: tuple[str, ...]
    package: tuple[str, ...]
    tree: ast.Module

    @classmethod
    def read(cls, root: Path, file: Path) -> Module:
        parts = file.relative_to(root).with_suffix("").parts
        name = parts[:-1] if parts[-1] == "__init__" else parts
        package = name if parts[-1] == "__init__" else parts[:-1]
        return cls(file.relative_to(root).as_posix(), name, package, ast.parse(file.read_text(), str(file)))

    def within(self, package: tuple[str, ...]) -> bool:
        return self.name[: len(package)] == package

    def relative(self, level: int, module: str | None) -> tuple[str, ...] | None:
        """The absolute name ``from <level dots><module> import`` starts from, None above the top."""
        if level == 0:
            return tuple(module.split(".")) if module else ()
        if level - 1 > len(self.package):
            return None
        base = self.package[: len(self.package) - (level - 1)]
        return base + tuple(module.split(".")) if module else base


@dataclass(frozen=True)
class Imported:
    line: int
    name: tuple[str, ...]
    how: str


def production_modules(root: Path) -> list[Module]:
    files = sorted(f for package in PACKAGES if (root / package).is_dir() for f in (root / package).rglob("*.py"))
    return [Module.read(root, f) for f in files]


def check(root: Path = ROOT) -> list[Breach]:
    """Every breach of the house's rules under ``root`` (a checkout or a synthetic tree), sorted."""
    breaches: list[Breach] = []
    for module in production_modules(root):
        breaches.extend(check_module(module))
    return sorted(set(breaches))


def check_module(module: Module) -> Iterator[Breach]:
    bindings = local_bindings(module.tree)
    imported, unresolved = imports_of(module, bindings)
    for line, detail in unresolved:
        yield Breach(module.path, line, "dynamic-import", detail)
    for item in imported:
        for detail in direction(module, item.name):
            yield Breach(module.path, item.line, "direction", f"{item.how} {'.'.join(item.name)}: {detail}")
    if module.within(("rooms",)):
        yield from purity(module, bindings, imported)
    if not module.within(SEAM):
        yield from private_reads(module, imported)


def direction(module: Module, name: tuple[str, ...]) -> Iterator[str]:
    top = name[0]
    if top in NOT_PRODUCTION:
        yield "production code never imports tests or benches"
    if module.within(("rooms",)) and top in {"signaling", "server"}:
        yield "rooms imports neither signaling nor server"
    if module.within(("signaling",)) and top == "server":
        yield "signaling never imports server"
    if top in MEDIA_LIBRARIES and not module.within(MEDIA_PACKAGE):
        yield "only server/media imports the media libraries"


def local_bindings(tree: ast.Module) -> dict[str, str]:
    """What each imported local name stands for (``il`` -> ``importlib``, ``im`` -> ``importlib.import_module``)."""
    bound: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    bound[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    bound[top] = top
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return bound


def qualified(node: ast.expr, bindings: dict[str, str]) -> str | None:
    """The dotted name an expression denotes (``il.import_module`` -> ``importlib.import_module``)."""
    if isinstance(node, ast.Name):
        if node.id in bindings:
            return bindings[node.id]
        if node.id == "__builtins__":
            return "builtins"
        return f"builtins.{node.id}" if hasattr(builtins, node.id) else None
    if isinstance(node, ast.Attribute):
        base = qualified(node.value, bindings)
        return f"{base}.{node.attr}" if base else None
    return None


def imports_of(module: Module, bindings: dict[str, str]) -> tuple[list[Imported], list[tuple[int, str]]]:
    """Every module this one imports, statically or dynamically, and the imports that cannot be resolved."""
    found: list[Imported] = []
    unresolved: list[tuple[int, str]] = []
    called = {id(node.func) for node in ast.walk(module.tree) if isinstance(node, ast.Call)}
    bases = {id(node.value) for node in ast.walk(module.tree) if isinstance(node, ast.Attribute)}
    bases |= {
        id(node.value)
        for node in ast.walk(module.tree)
        if isinstance(node, ast.Subscript) and qualified(node.value, bindings) == "sys.modules"
    }
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            found.extend(Imported(node.lineno, tuple(a.name.split(".")), "import") for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.extend(imports_from(module, node, unresolved))
        elif isinstance(node, ast.Call):
            outcome = dynamic_import(module, node, bindings)
            if isinstance(outcome, str):
                unresolved.append((node.lineno, outcome))
            elif outcome is not None:
                found.append(Imported(node.lineno, outcome, "dynamic import of"))
            if called_name(node) in ATTRIBUTE_FUNCTIONS and any(constant_str(a) in MACHINERY_NAMES for a in node.args):
                unresolved.append((node.lineno, f"the import machinery fetched by name: {ast.unparse(node)}"))
        elif isinstance(node, ast.Subscript) and qualified(node.value, bindings) == "sys.modules":
            name = constant_str(node.slice)
            if name is None:
                unresolved.append((node.lineno, f"sys.modules looked up by a computed name: {ast.unparse(node)}"))
            else:
                found.append(Imported(node.lineno, tuple(name.split(".")), "sys.modules lookup of"))
        if isinstance(node, ast.Name | ast.Attribute):
            name = qualified(node, bindings) or ""
            if id(node) not in called and (name in NAMED_IMPORTS or name in UNREADABLE_CODE):
                unresolved.append((node.lineno, f"{name} handed around, not called: {ast.unparse(node)}"))
            elif id(node) not in bases and name in MACHINERY:
                unresolved.append((node.lineno, f"the import machinery handed around: {ast.unparse(node)}"))
    return found, unresolved


def imports_from(module: Module, node: ast.ImportFrom, unresolved: list[tuple[int, str]]) -> list[Imported]:
    """``from X import a, b`` imports X and, when they are modules, X.a and X.b: both are recorded."""
    base = module.relative(node.level, node.module)
    if base is None:
        unresolved.append((node.lineno, f"relative import above the top: {ast.unparse(node)}"))
        return []
    if any(alias.name == "*" for alias in node.names):
        unresolved.append((node.lineno, f"a star import hides what its names stand for: {ast.unparse(node)}"))
    how = "from " + "." * node.level + (node.module or "")
    found = [Imported(node.lineno, base, how)] if base else []
    return found + [Imported(node.lineno, (*base, a.name), how) for a in node.names if a.name != "*"]


def dynamic_import(module: Module, call: ast.Call, bindings: dict[str, str]) -> tuple[str, ...] | str | None:
    """The module a call imports; a string saying why when the checker cannot tell; None when it imports nothing."""
    name = qualified(call.func, bindings)
    if name is None:
        return None
    if name in UNREADABLE_CODE:
        return f"{name.removeprefix('builtins.')}() runs code no checker reads"
    if name not in NAMED_IMPORTS and name.split(".")[0] not in IMPORT_MODULES:
        return None
    target = constant_str(call.args[0]) if call.args else None
    if name not in NAMED_IMPORTS or target is None:
        return f"a dynamic import the checker cannot resolve: {ast.unparse(call)}"
    level = len(target) - len(target.lstrip("."))
    if name in {"builtins.__import__", "importlib.__import__"}:
        level = max(level, import_level(call))
    if level == 0:
        return tuple(target.split("."))
    anchor = import_anchor(module, call) if name == "importlib.import_module" else module.package
    if anchor is None or level - 1 > len(anchor):
        return f"a relative dynamic import the checker cannot anchor: {ast.unparse(call)}"
    rest = target.lstrip(".")
    base = anchor[: len(anchor) - (level - 1)]
    return (base + tuple(rest.split("."))) if rest else base or f"a dynamic import of nothing: {ast.unparse(call)}"


def import_level(call: ast.Call) -> int:
    level: ast.expr | None = call.args[4] if len(call.args) > 4 else None
    for keyword in call.keywords:
        if keyword.arg == "level":
            level = keyword.value
    return level.value if isinstance(level, ast.Constant) and isinstance(level.value, int) else 0


def import_anchor(module: Module, call: ast.Call) -> tuple[str, ...] | None:
    """``import_module(".x", package)``'s package: a constant, ``__package__`` or ``__name__``."""
    anchor: ast.expr | None = call.args[1] if len(call.args) > 1 else None
    for keyword in call.keywords:
        if keyword.arg == "package":
            anchor = keyword.value
    if isinstance(anchor, ast.Name) and anchor.id == "__package__":
        return module.package
    if isinstance(anchor, ast.Name) and anchor.id == "__name__":
        return module.name
    text = constant_str(anchor) if anchor is not None else None
    return tuple(text.split(".")) if text else None


def constant_str(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def purity(module: Module, bindings: dict[str, str], imported: Iterable[Imported]) -> Iterator[Breach]:
    for item in imported:
        if item.name[0] != "rooms" and item.name[0] not in ROOMS_STDLIB:
            detail = f"{item.how} {'.'.join(item.name)}: rooms imports only itself and {sorted(ROOMS_STDLIB)}"
            yield Breach(module.path, item.line, "purity", detail)
    for node in ast.walk(module.tree):
        comprehension = isinstance(node, ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp)
        if isinstance(node, ASYNC_NODES) or (comprehension and any(g.is_async for g in node.generators)):
            detail = f"{type(node).__name__}: rooms waits on nothing (an async interface is a port, in signaling)"
            yield Breach(module.path, node.lineno, "purity", detail)
        if isinstance(node, ast.Name) and node.id in ROOMS_FORBIDDEN_BUILTINS and node.id not in bindings:
            yield Breach(module.path, node.lineno, "purity", f"{node.id}: I/O or a way around the import rules")
        elif isinstance(node, ast.Attribute) and node.attr in ROOMS_FORBIDDEN_ATTRIBUTES:
            yield Breach(module.path, node.lineno, "purity", f".{node.attr}: a way to the interpreter's internals")
        elif isinstance(node, ast.Call) and called_name(node) in ATTRIBUTE_FUNCTIONS:
            for text in map(constant_str, node.args):
                if text in ROOMS_FORBIDDEN_ATTRIBUTES | ROOMS_FORBIDDEN_BUILTINS:
                    yield Breach(module.path, node.lineno, "purity", f"{text!r}: a built-in or an internal by name")
        elif (text := constant_str(node)) in ROOMS_FORBIDDEN_ATTRIBUTES | {"__builtins__", "__import__"}:
            yield Breach(module.path, node.lineno, "purity", f"{text!r}: an internal named by a string")


def private_reads(module: Module, imported: Iterable[Imported]) -> Iterator[Breach]:
    allowed = PRIVATE_ALLOWED.get(module.path, frozenset())
    for item in imported:
        if item.name[0] in MEDIA_LIBRARIES and any(is_private(part) for part in item.name):
            yield Breach(module.path, item.line, "private", f"{item.how} {'.'.join(item.name)}: a library internal")
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Attribute) and is_private(node.attr) and not owned(node.value):
            if node.attr not in allowed:
                yield Breach(module.path, node.lineno, "private", f"{ast.unparse(node)}: a private attribute")
        elif isinstance(node, ast.Call) and called_name(node) in ATTRIBUTE_FUNCTIONS:
            for name in attribute_names(node):
                text = constant_str(name)
                if text is None and module.path not in DYNAMIC_ATTRIBUTE_MODULES:
                    detail = f"{ast.unparse(node)}: an attribute name computed at run time"
                    yield Breach(module.path, node.lineno, "private", detail)
                elif text is not None and is_private(text) and text not in allowed:
                    detail = f"{ast.unparse(node)}: a private attribute by name"
                    yield Breach(module.path, node.lineno, "private", detail)
        elif isinstance(node, ast.Subscript) and is_namespace(node.value):
            key = constant_str(node.slice)
            if key is None or (is_private(key) and key not in allowed):
                yield Breach(module.path, node.lineno, "private", f"{ast.unparse(node)}: a private attribute by name")


def attribute_names(call: ast.Call) -> list[ast.expr]:
    """The name arguments of an attribute function whose object is not owned (``getattr(self, n)`` is)."""
    name, args = called_name(call), call.args
    if name == "attrgetter":
        return list(args)
    if name == "methodcaller":
        return args[:1]
    if name.startswith("__"):  # ``object.__getattribute__(obj, n)`` or ``obj.__getattribute__(n)``
        holder = call.func.value if isinstance(call.func, ast.Attribute) else None
        unbound = isinstance(holder, ast.Name) and holder.id in {"object", "type"}
        target = (args[0] if args else None) if unbound else holder
        names = args[1:2] if unbound else args[:1]
    else:
        target, names = (args[0] if args else None), args[1:2]
    return [] if target is not None and owned(target) else names


def called_name(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def owned(node: ast.expr) -> bool:
    """``self``, ``cls`` or ``super()``: an object's own attributes are its business."""
    if isinstance(node, ast.Name):
        return node.id in {"self", "cls"}
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"


def is_namespace(node: ast.expr) -> bool:
    """``obj.__dict__`` or ``vars(obj)`` of an object not owned."""
    if isinstance(node, ast.Attribute) and node.attr == "__dict__":
        return not owned(node.value)
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "vars"


def main() -> int:
    breaches = check(ROOT)
    for breach in breaches:
        print(breach)
    print(f"{len(production_modules(ROOT))} modules, {len(breaches)} breaches")
    return 1 if breaches else 0


if __name__ == "__main__":
    sys.exit(main())
