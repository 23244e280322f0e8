"""Only the journal changes a message's or request's status, or a contact's opt-outs.

An AST scan of bot/, handlers/, scheduler/ and store/ (migrations excepted) finds every
assignment, `setattr`, model constructor and `update(...).values(...)` that writes one of
those fields. The Slack and event outboxes have a status of their own: rows known to be `SlackOutbox` or
`EventOutbox` (by annotation, by the query they come from) are left out by model, not by file.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("bot", "handlers", "scheduler", "store")
# The journal and its prepared statements (bot/usecases/journal_sql.py).
JOURNAL = (Path("bot/usecases/journal.py"), Path("bot/usecases/journal_sql.py"))
# The fields only the journal writes (store/models.py: Message, ReviewRequest, Contact).
GUARDED = frozenset({"status", "phone_opted_out_at", "email_opted_out_at"})
GUARDED_MODELS = frozenset({"Message", "ReviewRequest", "Contact"})
# Their status is their outbox's (pending, done, dead or dropped), not a request's.
OTHER_MODELS = ("SlackOutbox", "EventOutbox")


def _mentions(node: ast.AST | None, name: str) -> bool:
    return node is not None and name in ast.unparse(node)


def _other(node: ast.AST | None) -> bool:
    return any(_mentions(node, model) for model in OTHER_MODELS)


def _outbox_names(function: ast.AST) -> set[str]:
    """Return the local names a function binds to Slack outbox rows."""
    names: set[str] = set()
    if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
        for arg in [*function.args.args, *function.args.kwonlyargs]:
            if _other(arg.annotation):
                names.add(arg.arg)
    for node in ast.walk(function):
        if isinstance(node, ast.For) and _other(node.iter):
            names |= {n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)}
        elif isinstance(node, ast.Assign) and _other(node.value):
            names |= {n.id for t in node.targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            if _other(node.annotation) or _other(node.value):
                names.add(node.target.id)
    return names


def _owner(target: ast.expr) -> str:
    return (
        target.value.id
        if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
        else ""
    )


def _guarded_keywords(call: ast.Call) -> list[str]:
    return [k.arg for k in call.keywords if k.arg in GUARDED]


def _call_writes(call: ast.Call) -> str | None:
    """Say what guarded field a call writes, or None."""
    func = call.func
    if isinstance(func, ast.Name) and func.id == "setattr" and len(call.args) >= 2:
        field = call.args[1]
        if isinstance(field, ast.Constant) and field.value in GUARDED:
            return f"setattr {field.value}"
    if isinstance(func, ast.Name) and func.id in GUARDED_MODELS and _guarded_keywords(call):
        return f"{func.id}({', '.join(_guarded_keywords(call))}=...)"
    if isinstance(func, ast.Attribute) and func.attr == "values" and _guarded_keywords(call):
        if not any(_mentions(func.value, f"update({m})") for m in OTHER_MODELS):
            return f".values({', '.join(_guarded_keywords(call))}=...)"
    return None


def writes(source: str) -> list[str]:
    """Return "line: what" for each write of a guarded field in a module's source."""
    tree = ast.parse(source)
    found: list[str] = []
    scopes: list[ast.AST] = [
        tree,
        *(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)),
    ]
    seen: set[int] = set()
    for scope in reversed(scopes):  # innermost functions first: their outbox names apply
        outbox = _outbox_names(scope) if scope is not tree else set()
        for node in ast.walk(scope):
            if id(node) in seen:
                continue
            seen.add(id(node))
            targets: list[ast.expr] = []
            if isinstance(node, ast.Assign):
                targets = list(node.targets)
            elif isinstance(node, ast.AugAssign | ast.AnnAssign):
                targets = [node.target]
            for target in targets:
                if isinstance(target, ast.Attribute) and target.attr in GUARDED:
                    # `self.status` is an object's own (an HTTP error's), never a model's.
                    if _owner(target) not in outbox | {"self"}:
                        found.append(f"{node.lineno}: .{target.attr} =")
            if isinstance(node, ast.Call) and (what := _call_writes(node)):
                found.append(f"{node.lineno}: {what}")
    return sorted(found, key=lambda line: int(line.split(":")[0]))


def _modules() -> list[Path]:
    paths = [p for top in SCANNED for p in sorted((ROOT / top).rglob("*.py"))]
    return [
        p.relative_to(ROOT)
        for p in paths
        if "migrations" not in p.parts and p.relative_to(ROOT) not in JOURNAL
    ]


def test_only_the_journal_changes_statuses_and_opt_outs() -> None:
    offenders = {
        str(path): lines
        for path in _modules()
        if (lines := writes((ROOT / path).read_text(encoding="utf-8")))
    }
    assert offenders == {}


@pytest.mark.parametrize("module", JOURNAL, ids=str)
def test_the_journal_itself_is_seen_writing_them(module: Path) -> None:
    assert writes((ROOT / module).read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "source",
    [
        "message.status = 'sent'",
        "def f(request):\n    request.status = status\n",
        "contact.phone_opted_out_at = now",
        "setattr(contact, 'email_opted_out_at', now)",
        "Message(kind='initial', status='queued')",
        "session.execute(update(Message).values(status='claimed'))",
    ],
)
def test_the_scan_finds_a_write(source: str) -> None:
    assert writes(source)


@pytest.mark.parametrize(
    "source",
    [
        "def f(row: SlackOutbox):\n    row.status = 'done'\n",
        "def f(session):\n    for row in session.exec(select(SlackOutbox)):\n"
        "        row.status = 'done'\n",
        "if message.status == 'sent':\n    pass\n",
        "Response('ok', status=200)",
    ],
)
def test_the_scan_leaves_the_outbox_and_reads_alone(source: str) -> None:
    assert writes(source) == []
