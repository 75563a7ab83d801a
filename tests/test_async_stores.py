"""Async all the way (issue 15, item 4): no coroutine of bot/ or handlers/ calls a store
synchronously. A coroutine reaches the stores only through bot/store/aio.py (an `Async`
view, or `aio.run` for a unit of work), which runs each call in a worker thread.

A walk over the code's syntax. A *store call* is a method called on a store (an object held
as `archive`, `ledger`, `runs`, `profiles`, `source_state`, `search`, … or an `Async`
view's `.sync`) or a call of the archive's lexicon (it reads the archive). Inside an
`async def` (not counting the functions and lambdas it defines, which run where they are
sent), flagged are: a store call; and `asyncio.to_thread` / `run_in_executor` given a store
method, or a function (a lambda, a local or module function, a method of the class) whose
own body makes a store call — that is the facade's job. tests/reliability/
test_event_loop.py checks the same rule at runtime for a digest run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FACADE = ROOT / "bot" / "store" / "aio.py"
STORES = {
    "archive",
    "ledger",
    "runs",
    "profiles",
    "source_state",
    "state",
    "search",
    "feedback",
    "sync",  # an `Async` view's store, for code already in a worker thread
}
STORE_CALLABLES = {"lexicon", "lexicons"}  # LexiconCache: reads the archive
TO_THREAD = {"to_thread", "run_in_executor"}


def _name(node: ast.AST) -> str | None:
    """The last identifier of a Name or Attribute, without leading underscores."""
    if isinstance(node, ast.Name):
        return node.id.lstrip("_")
    if isinstance(node, ast.Attribute):
        return node.attr.lstrip("_")
    return None


def _own_nodes(fn: ast.AST) -> list[ast.AST]:
    """The nodes of `fn`'s body, not those of the functions, lambdas and classes it defines."""
    out: list[ast.AST] = []
    todo = list(ast.iter_child_nodes(fn))
    while todo:
        node = todo.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            continue
        out.append(node)
        todo.extend(ast.iter_child_nodes(node))
    return out


def _store_call(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Attribute) and _name(func.value) in STORES:
        return ast.unparse(func)
    if _name(func) in STORE_CALLABLES:
        return ast.unparse(func)
    return None


def _calls_stores(fn: ast.AST) -> bool:
    body = fn.body if isinstance(fn, ast.Lambda) else fn
    nodes = [body, *ast.walk(body)] if isinstance(fn, ast.Lambda) else list(ast.walk(fn))
    return any(isinstance(n, ast.Call) and _store_call(n) for n in nodes)


class _Checker(ast.NodeVisitor):
    def __init__(self, path: Path, tree: ast.Module) -> None:
        self.path = path
        self.found: list[str] = []
        self.functions = {
            n.name: n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
        }
        self.methods: dict[str, ast.AST] = {}

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        outer = self.methods
        self.methods = {
            n.name: n for n in node.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
        }
        self.generic_visit(node)
        self.methods = outer

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        local = {
            n.name: n for n in ast.walk(node) if isinstance(n, ast.FunctionDef) and n is not node
        }
        for sub in _own_nodes(node):
            if not isinstance(sub, ast.Call):
                continue
            where = f"{self.path.relative_to(ROOT)}:{sub.lineno} in {node.name}"
            store = _store_call(sub)
            if store is not None:
                self.found.append(f"{where}: {store}(...) on the event loop")
            elif _name(sub.func) in TO_THREAD:
                target = self._target(sub, local)
                if target is not None:
                    self.found.append(f"{where}: {target} sent to a thread outside the facade")
        self.generic_visit(node)

    def _target(self, call: ast.Call, local: dict[str, ast.FunctionDef]) -> str | None:
        """What `call` (a to_thread) runs, when that is store work."""
        args = call.args[1:] if _name(call.func) == "run_in_executor" else call.args
        if not args:
            return None
        fn = args[0]
        if isinstance(fn, ast.Attribute) and _name(fn.value) in STORES:
            return ast.unparse(fn)
        if isinstance(fn, ast.Lambda):
            return ast.unparse(fn) if _calls_stores(fn) else None
        if isinstance(fn, ast.Name):
            body = local.get(fn.id) or self.functions.get(fn.id)
        elif isinstance(fn, ast.Attribute) and _name(fn.value) == "self":
            body = self.methods.get(fn.attr)
        else:
            body = None
        return ast.unparse(fn) if body is not None and _calls_stores(body) else None


def violations(paths: list[Path]) -> list[str]:
    found: list[str] = []
    for path in paths:
        if path == FACADE:
            continue
        tree = ast.parse(path.read_text(), str(path))
        checker = _Checker(path, tree)
        checker.visit(tree)
        found += checker.found
    return found


def _code() -> list[Path]:
    return sorted([*(ROOT / "bot").rglob("*.py"), *(ROOT / "handlers").rglob("*.py")])


def test_no_coroutine_calls_a_store_but_through_the_facade() -> None:
    assert violations(_code()) == []


@pytest.mark.parametrize(
    "source",
    [
        "async def f(app):\n    return app.profiles.all()\n",
        "async def f(self):\n    return self._ledger.take('c', [])\n",
        "async def f(self):\n    return self._archive.sync.get('k')\n",
        "async def f(services):\n    return services.lexicon()\n",
        "import asyncio\nasync def f(app):\n    await asyncio.to_thread(app.runs.last, 'c')\n",
        "import asyncio\nasync def f(s):\n"
        "    await asyncio.to_thread(lambda: s.archive.get('k'))\n",
        "import asyncio\nasync def f(s):\n"
        "    def change():\n        return s.profiles.get('x')\n"
        "    return await asyncio.to_thread(change)\n",
        "import asyncio\ndef read(s):\n    return s.ledger.posted('c')\n"
        "async def f(s):\n    return await asyncio.to_thread(read, s)\n",
        "import asyncio\nclass C:\n    def w(self):\n        return self._runs.last('c')\n"
        "    async def f(self):\n        return await asyncio.to_thread(self.w)\n",
    ],
)
def test_the_walk_finds_each_way_of_calling_a_store(source: str) -> None:
    path = ROOT / "bot" / "_example.py"  # (never written: parsed from `source`)
    tree = ast.parse(source)
    checker = _Checker(path, tree)
    checker.visit(tree)
    assert len(checker.found) == 1, checker.found


@pytest.mark.parametrize(
    "source",
    [
        "from bot.store import aio\nasync def f(app):\n"
        "    return await aio.run(app.profiles.all)\n",
        "async def f(self):\n    return await self._ledger(lambda l: l.take('c', []))\n",
        "import asyncio\nasync def f(self, xs):\n    return await asyncio.to_thread(sorted, xs)\n",
        "def f(app):\n    return app.profiles.all()\n",  # not a coroutine
    ],
)
def test_the_facade_and_other_threads_are_not_flagged(source: str) -> None:
    path = ROOT / "bot" / "_example.py"
    tree = ast.parse(source)
    checker = _Checker(path, tree)
    checker.visit(tree)
    assert checker.found == []
