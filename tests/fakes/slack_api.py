"""A stateful local stand-in for the Slack Web API that the real `slack_sdk` talks to.

    with FakeSlack() as fake:
        client = WebClient(token=fake.bot_token, base_url=fake.api_url)
        client.chat_postMessage(channel="C1", text="hi")
        assert fake.messages("C1")[0]["text"] == "hi"

The server listens on 127.0.0.1, port 0 (a free port), in a daemon thread. Bodies are read as
JSON (what slack_sdk sends for chat.*, views.*), form-encoded or multipart (everything else),
merged with the query string. JSON-typed fields (blocks, attachments, view, files, metadata)
are decoded when they arrive as strings, so `fake.calls_to(...)` shows lists/dicts either way.

Besides /api/<method>, the server answers:
  POST /upload/<file_id>     the upload_url of files.getUploadURLExternal (raw bytes or multipart)
  POST /response/<id>        a response_url from `fake.new_response_url()` (JSON body)
  GET  /files-pri/<id>/<name> a shared file's `url_private` (bot token as Bearer, else 403)

A user's file (a `file_input` upload) is added with `fake.share_file(name, content)`;
`files.info` describes it and its `url_private` serves its bytes.

Errors follow Slack: HTTP 200 with {"ok": false, "error": ...} (with
`response_metadata.messages` explaining validation failures), except injected failures
(`fake.fail_next`): 429 + Retry-After, or 500 with a text body. `fail_next` also accepts the
pseudo-methods "upload" and "response_url" for the two non-API endpoints.

All state lives behind one RLock shared with a Condition that is notified after every request;
the introspection helpers return deep copies.
"""

from __future__ import annotations

import base64
import copy
import email.parser
import email.policy
import hashlib
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

TRIGGER_TTL_SECONDS = 3.0
RESPONSE_URL_TTL_SECONDS = 30 * 60
RESPONSE_URL_MAX_USES = 5

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_TEXT_OBJECT_CHARS = 3000
MAX_HEADER_TEXT_CHARS = 150
MAX_MESSAGE_TEXT_CHARS = 40000
MAX_VIEW_TITLE_CHARS = 24
MAX_PRIVATE_METADATA_CHARS = 3000

JSON_FIELDS = ("blocks", "attachments", "view", "files", "metadata", "outputs")
OAUTH_CODE_TTL_SECONDS = 600
POSTED_METHODS = ("chat.postMessage", "chat.update", "chat.postEphemeral")


DROPPED = 0  # fail_next(status=DROPPED): close the connection without an answer


class SlackError(Exception):
    """Raised inside a handler: answered as HTTP 200 {"ok": false, "error": error}."""

    def __init__(self, error: str, *messages: str) -> None:
        super().__init__(error)
        self.error = error
        self.messages = list(messages)


@dataclass
class _Failure:
    status: int
    retry_after: int | None
    error: str | None
    times: int
    after_storing: bool = False  # the call takes effect, then the answer is lost (a 5xx)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _present(params: dict[str, Any], key: str) -> bool:
    value = params.get(key)
    return value is not None and value != "" and value != []


def _text_objects(node: Any) -> Iterable[tuple[str, dict[str, Any]]]:
    """Yield (parent block type, text object) for every plain_text/mrkdwn object in `node`."""
    stack: list[tuple[str, Any]] = [("", node)]
    while stack:
        parent, item = stack.pop()
        if isinstance(item, dict):
            if item.get("type") in ("plain_text", "mrkdwn") and isinstance(item.get("text"), str):
                yield parent, item
            kind = item.get("type") if isinstance(item.get("type"), str) else parent
            stack.extend((kind, v) for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            stack.extend((parent, v) for v in item)


def _check_blocks(blocks: Any, limit: int, error: str) -> list[dict[str, Any]]:
    if not isinstance(blocks, list) or not all(isinstance(b, dict) for b in blocks):
        raise SlackError(error, "[ERROR] blocks must be a JSON array of objects")
    if len(blocks) > limit:
        raise SlackError(
            error, f"[ERROR] no more than {limit} items allowed [json-pointer:/blocks]"
        )
    for block in blocks:
        if not isinstance(block.get("type"), str):
            raise SlackError(error, "[ERROR] missing required field: type [json-pointer:/blocks]")
    for parent, obj in _text_objects(blocks):
        if len(obj["text"]) > MAX_TEXT_OBJECT_CHARS:
            raise SlackError(
                error, f"[ERROR] must be less than {MAX_TEXT_OBJECT_CHARS + 1} characters"
            )
        if parent == "header" and len(obj["text"]) > MAX_HEADER_TEXT_CHARS:
            raise SlackError(
                error, f"[ERROR] must be less than {MAX_HEADER_TEXT_CHARS + 1} characters"
            )
    return blocks


class _Server(ThreadingHTTPServer):
    # Slack takes as many connections as a process opens; the standard library's listen
    # backlog of 5 resets some of a burst's (a web worker posts up to 16 answers at once).
    request_queue_size = 128


class FakeSlack:
    def __init__(
        self,
        bot_token: str = "xoxb-test",  # noqa: S107 - a fake token for tests
        team_id: str = "T0001",
        bot_user_id: str = "UBOT",
        clock: Callable[[], float] = time.monotonic,
        *,
        team_name: str = "Test Team",
        team_domain: str = "test-team",
        bot_id: str = "B0001",
        app_id: str = "A0001",
    ) -> None:
        self.bot_token = bot_token
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.clock = clock
        self.team_name = team_name
        self.team_domain = team_domain
        self.bot_id = bot_id
        self.app_id = app_id

        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._seq = itertools.count(1)
        self._ts_seq = itertools.count(1)

        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.ephemerals: list[dict[str, Any]] = []
        self.views: list[dict[str, Any]] = []
        self.home_views: dict[str, dict[str, Any]] = {}
        self.files: dict[str, dict[str, Any]] = {}
        self.responses: list[dict[str, Any]] = []
        self.users: dict[str, dict[str, Any]] = {}
        self.shared_files: dict[str, dict[str, Any]] = {}  # files users uploaded (file_input)
        self.downloads: list[dict[str, Any]] = []  # each url_private GET: file id, auth

        self._roots: dict[str, list[dict[str, Any]]] = {}
        self._by_ts: dict[tuple[str, str], dict[str, Any]] = {}
        self._posted: list[dict[str, Any]] = []
        self._failures: dict[str, list[_Failure]] = {}
        self._triggers: dict[str, float] = {}
        self._used_triggers: set[str] = set()
        self._views_by_id: dict[str, dict[str, Any]] = {}
        self._uploads: dict[str, dict[str, Any]] = {}
        self._response_urls: dict[str, dict[str, Any]] = {}
        self._oauth_client: tuple[str, str] | None = None
        self.latency = 0.0  # seconds each HTTP request waits before its answer (Slack's own)
        self._oauth_codes: dict[str, float] = {}
        self._socket_mode: tuple[str, str] | None = None
        # Workflow steps: each run's short-lived token (xwfp-...) and what the app answered.
        self._function_tokens: dict[str, str] = {}
        self.function_results: list[dict[str, Any]] = []

        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""
        self.api_url = ""

        self.users[bot_user_id] = self._user_object(
            bot_user_id, name="reviewops", real_name="ReviewOps", is_bot=True
        )

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeSlack:
        fake = self

        class Handler(_Handler):
            owner = fake

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        port = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{port}"
        self.api_url = f"{self.base_url}/api/"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-slack",
            daemon=True,
        )
        self._thread.start()
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ set-up helpers

    def add_user(
        self,
        user_id: str,
        *,
        is_admin: bool = False,
        is_owner: bool = False,
        tz: str = "Europe/Paris",
        name: str = "jane",
        real_name: str = "Jane Doe",
        display_name: str | None = None,
        email: str | None = None,
        is_bot: bool = False,
        deleted: bool = False,
        is_restricted: bool = False,
        is_ultra_restricted: bool = False,
    ) -> dict[str, Any]:
        """Add (or replace) a user; `is_restricted` is a multi-channel guest,
        `is_ultra_restricted` a single-channel guest (Slack sets both for the latter)."""
        user = self._user_object(
            user_id,
            is_admin=is_admin,
            is_owner=is_owner,
            tz=tz,
            name=name,
            real_name=real_name,
            display_name=display_name,
            email=email,
            is_bot=is_bot,
            deleted=deleted,
        )
        user["is_restricted"] = is_restricted or is_ultra_restricted
        user["is_ultra_restricted"] = is_ultra_restricted
        with self._lock:
            self.users[user_id] = user
        return copy.deepcopy(user)

    def issue_trigger_id(self) -> str:
        with self._lock:
            n = next(self._seq)
            trigger_id = f"{n}.{self.team_id}.{hashlib.sha1(str(n).encode()).hexdigest()[:16]}"  # noqa: S324
            self._triggers[trigger_id] = self.clock()
            return trigger_id

    def configure_oauth(self, client_id: str, client_secret: str) -> None:
        """Accept oauth.v2.access from the app with these credentials."""
        with self._lock:
            self._oauth_client = (client_id, client_secret)

    def configure_socket_mode(self, app_token: str, url: str) -> None:
        """Answer apps.connections.open, authenticated by this app-level token, with `url`."""
        with self._lock:
            self._socket_mode = (app_token, url)

    def issue_oauth_code(self) -> str:
        """Return a one-time code, as Slack puts on the redirect after a user approves."""
        with self._lock:
            code = f"{self.team_id}.{hashlib.sha1(str(next(self._seq)).encode()).hexdigest()}"  # noqa: S324
            self._oauth_codes[code] = self.clock()
            return code

    def issue_function_execution(self) -> tuple[str, str]:
        """Start a workflow step run: return its function_execution_id and its own token.

        Like Slack's, the token (sent in the function_executed event) acts as the bot for any
        method, and is the only token that may complete that run.
        """
        with self._lock:
            execution_id = self._new_id("Fx")
            token = f"xwfp-{execution_id}-{self._new_id('')}"
            self._function_tokens[token] = execution_id
        return execution_id, token

    def results_of(self, execution_id: str) -> list[dict[str, Any]]:
        """What the app told Slack of a step run: {"method", "outputs"} or {"method", "error"}."""
        with self._lock:
            return [
                copy.deepcopy(r)
                for r in self.function_results
                if r["function_execution_id"] == execution_id
            ]

    def share_file(
        self, name: str, content: bytes, *, user: str = "U0ALICE", filetype: str = "csv"
    ) -> dict[str, Any]:
        """Add a file a user uploaded (as a modal's file_input does); return its file object."""
        with self._lock:
            file_id = self._new_id("F")
            url = f"{self.base_url}/files-pri/{self.team_id}-{file_id}/{name}"
            info = {
                "id": file_id,
                "name": name,
                "title": name,
                "mimetype": "text/csv" if filetype == "csv" else "application/octet-stream",
                "filetype": filetype,
                "size": len(content),
                "user": user,
                "url_private": url,
                "url_private_download": url + "?download=1",
            }
            self.shared_files[file_id] = {"info": info, "content": content}
            return copy.deepcopy(info)

    def _handle_download(
        self, path: str, auth_header: str | None
    ) -> tuple[int, dict[str, str], bytes]:
        """Serve a shared file's bytes to a request with the bot token (Slack: url_private)."""
        with self._cond:
            try:
                file_id = path.split("/", 1)[0].rsplit("-", 1)[-1]
                token = (
                    auth_header[7:].strip()
                    if auth_header and auth_header.lower().startswith("bearer ")
                    else None
                )
                self.downloads.append({"file": file_id, "token": token})
                failure = self._take_failure("download")
                if failure is not None:
                    return _failure_answer(failure)
                shared = self.shared_files.get(file_id)
                if shared is None:
                    return _text_answer(404, "file not found")
                if token != self.bot_token:
                    # Slack answers a login page (HTML, 200) to an unauthenticated url_private.
                    return 200, {"Content-Type": "text/html"}, b"<html>Sign in to Slack</html>"
                return 200, {"Content-Type": "application/octet-stream"}, shared["content"]
            finally:
                self._cond.notify_all()

    def set_latency(self, seconds: float) -> None:
        """Make every request wait `seconds` before it is handled, as Slack's do (benchmarks)."""
        self.latency = seconds

    def new_response_url(self) -> str:
        with self._lock:
            n = next(self._seq)
            rid = f"{self.team_id}/{n}/{hashlib.sha1(f'r{n}'.encode()).hexdigest()[:24]}"  # noqa: S324
            self._response_urls[rid] = {"issued": self.clock(), "uses": 0}
            return f"{self.base_url}/response/{rid}"

    def response_url_first_posts(self) -> dict[str, float]:
        """When each response_url was first posted to (wall clock, for answer times)."""
        with self._lock:
            return {
                f"{self.base_url}/response/{rid}": state["first_post"]
                for rid, state in self._response_urls.items()
                if "first_post" in state
            }

    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        retry_after: int | None = 1,
        error: str | None = None,
        times: int = 1,
        after_storing: bool = False,
    ) -> None:
        """Make the next `times` calls to `method` fail.

        error="x" -> HTTP 200 {"ok": false, "error": "x"}; else status 429 -> ratelimited with
        Retry-After; status=DROPPED (0) -> the connection is closed with no answer (a network
        error); any other status -> that status with a text body ("internal error" for 500).
        after_storing=True: the call is carried out (a message stored) before the failure answer.
        """
        with self._lock:
            self._failures.setdefault(method, []).append(
                _Failure(status, retry_after, error, times, after_storing)
            )

    # ------------------------------------------------------------------ introspection

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        with self._lock:
            return [copy.deepcopy(p) for m, p in self.calls if m == method]

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """Root messages of `channel`, oldest first, each with its "replies" list."""
        with self._lock:
            return copy.deepcopy(self._roots.get(channel, []))

    def thread(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """[root, *replies] of the thread rooted at `ts` (empty if there is no such root)."""
        with self._lock:
            root = self._by_ts.get((channel, ts))
            if root is None or "replies" not in root:
                return []
            root_copy = copy.deepcopy(root)
            return [root_copy, *root_copy["replies"]]

    def message(self, channel: str, ts: str) -> dict[str, Any]:
        """Current state (after updates) of a message; KeyError if unknown."""
        with self._lock:
            return copy.deepcopy(self._by_ts[(channel, ts)])

    def view(self, view_id: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._views_by_id[view_id])

    def all_posted(self) -> list[dict[str, Any]]:
        """Every chat.postMessage/update/postEphemeral payload received (failed ones too)."""
        with self._lock:
            return copy.deepcopy(self._posted)

    def all_sent(self) -> list[dict[str, Any]]:
        """Every API call's params plus every response_url payload: for leak checks."""
        with self._lock:
            out = [{"method": m, **p} for m, p in self.calls]
            out += [{"method": "response_url", **r} for r in self.responses]
            return copy.deepcopy(out)

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> bool:
        """Wait until `predicate()` is true; re-checked after every request the fake handles."""
        with self._cond:
            return bool(self._cond.wait_for(predicate, timeout=timeout))

    # ------------------------------------------------------------------ request dispatch

    def _take_failure(self, method: str) -> _Failure | None:
        queue = self._failures.get(method)
        if not queue:
            return None
        failure = queue[0]
        failure.times -= 1
        if failure.times <= 0:
            queue.pop(0)
        return failure

    def _handle_api(
        self, method: str, params: dict[str, Any], auth_header: str | None
    ) -> tuple[int, dict[str, str], bytes]:
        with self._cond:
            try:
                token = params.pop("token", None)
                if auth_header and auth_header.lower().startswith("bearer "):
                    token = auth_header[7:].strip()
                self.calls.append((method, copy.deepcopy(params)))
                if method in POSTED_METHODS:
                    self._posted.append({"method": method, **copy.deepcopy(params)})
                if method == "oauth.v2.access":
                    return _json_answer(self._oauth_access(params, auth_header))
                if method == "apps.connections.open":
                    # Socket Mode authenticates with the app-level token, not the bot's.
                    if self._socket_mode is None or token != self._socket_mode[0]:
                        return _json_answer({"ok": False, "error": "invalid_auth"})
                    return _json_answer({"ok": True, "url": self._socket_mode[1]})
                if not token:
                    return _json_answer({"ok": False, "error": "not_authed"})
                if token != self.bot_token and token not in self._function_tokens:
                    return _json_answer({"ok": False, "error": "invalid_auth"})
                if method.startswith("functions.complete"):
                    return self._complete_function(method, params, token)
                failure = self._take_failure(method)
                if failure is not None and failure.after_storing and method in _METHODS:
                    _METHODS[method](self, params)
                if failure is not None:
                    return _failure_answer(failure)
                handler = _METHODS.get(method)
                if handler is None:
                    return _json_answer({"ok": False, "error": "unknown_method"})
                try:
                    body = handler(self, params)
                except SlackError as exc:
                    body = {"ok": False, "error": exc.error}
                    if exc.messages:
                        body["response_metadata"] = {"messages": exc.messages}
                return _json_answer(body)
            finally:
                self._cond.notify_all()

    def _oauth_access(self, params: dict[str, Any], auth_header: str | None) -> dict[str, Any]:
        # The app authenticates with its client id and secret (HTTP Basic, or form fields).
        client = (params.get("client_id"), params.get("client_secret"))
        if auth_header and auth_header.lower().startswith("basic "):
            user, _, password = base64.b64decode(auth_header[6:]).decode().partition(":")
            client = (user, password)
        if self._oauth_client is None or client != self._oauth_client:
            return {"ok": False, "error": "invalid_client_id"}
        issued = self._oauth_codes.pop(str(params.get("code")), None)
        if issued is None or self.clock() - issued > OAUTH_CODE_TTL_SECONDS:
            return {"ok": False, "error": "invalid_code"}
        return {
            "ok": True,
            "app_id": self.app_id,
            "authed_user": {"id": "U0INSTALLER"},
            "scope": "commands,chat:write,chat:write.public,files:write,users:read,im:write",
            "token_type": "bot",
            "access_token": self.bot_token,
            "bot_user_id": self.bot_user_id,
            "team": {"id": self.team_id, "name": self.team_name},
            "enterprise": None,
            "is_enterprise_install": False,
        }

    def _complete_function(
        self, method: str, params: dict[str, Any], token: str
    ) -> tuple[int, dict[str, str], bytes]:
        execution_id = str(params.get("function_execution_id") or "")
        if execution_id not in self._function_tokens.values():
            return _json_answer({"ok": False, "error": "function_execution_not_found"})
        if self._function_tokens.get(token) != execution_id:
            # Only the run's own token (the event's bot_access_token) completes it.
            return _json_answer({"ok": False, "error": "not_allowed_token_type"})
        failure = self._take_failure(method)
        if failure is not None:
            return _failure_answer(failure)
        result: dict[str, Any] = {"method": method, "function_execution_id": execution_id}
        if method == "functions.completeSuccess" and isinstance(params.get("outputs"), dict):
            result["outputs"] = copy.deepcopy(params["outputs"])
        elif method == "functions.completeError" and params.get("error"):
            result["error"] = str(params["error"])
        else:
            return _json_answer({"ok": False, "error": "invalid_arguments"})
        self.function_results.append(result)
        return _json_answer({"ok": True})

    def _handle_upload(
        self, file_id: str, data: bytes, content_type: str
    ) -> tuple[int, dict[str, str], bytes]:
        with self._cond:
            try:
                failure = self._take_failure("upload")
                if failure is not None:
                    return _failure_answer(failure)
                upload = self._uploads.get(file_id)
                if upload is None:
                    return _text_answer(404, "file not found")
                if content_type.startswith("multipart/form-data"):
                    parts = _parse_multipart(content_type, data)
                    file_parts = [v for v in parts.values() if isinstance(v, bytes)]
                    data = file_parts[0] if file_parts else b""
                upload["content"] = data
                return _text_answer(200, f"OK - {len(data)}")
            finally:
                self._cond.notify_all()

    def _handle_response_url(self, rid: str, data: bytes) -> tuple[int, dict[str, str], bytes]:
        with self._cond:
            try:
                failure = self._take_failure("response_url")
                if failure is not None:
                    return _failure_answer(failure)
                state = self._response_urls.get(rid)
                if state is None:
                    return _text_answer(404, "no_service")
                if self.clock() - state["issued"] > RESPONSE_URL_TTL_SECONDS:
                    return _text_answer(404, "expired_url")
                if state["uses"] >= RESPONSE_URL_MAX_USES:
                    return _text_answer(404, "used_url")
                try:
                    payload = json.loads(data.decode("utf-8"))
                except (UnicodeDecodeError, json.JSONDecodeError):
                    return _text_answer(400, "invalid_payload")
                if not isinstance(payload, dict):
                    return _text_answer(400, "invalid_payload")
                state["uses"] += 1
                state.setdefault("first_post", time.time())
                self.responses.append({**payload, "url": f"{self.base_url}/response/{rid}"})
                return _text_answer(200, "ok")
            finally:
                self._cond.notify_all()

    # ------------------------------------------------------------------ internals

    def _user_object(
        self,
        user_id: str,
        *,
        is_admin: bool = False,
        is_owner: bool = False,
        tz: str = "Europe/Paris",
        name: str = "jane",
        real_name: str = "Jane Doe",
        display_name: str | None = None,
        email: str | None = None,
        is_bot: bool = False,
        deleted: bool = False,
    ) -> dict[str, Any]:
        try:
            offset = datetime.now(ZoneInfo(tz)).utcoffset()
            tz_offset = int(offset.total_seconds()) if offset is not None else 0
            tz_label = datetime.now(ZoneInfo(tz)).tzname() or tz
        except (ZoneInfoNotFoundError, ValueError):
            tz_offset, tz_label = 0, tz
        profile: dict[str, Any] = {
            "real_name": real_name,
            "real_name_normalized": real_name,
            "display_name": name if display_name is None else display_name,
            "display_name_normalized": name if display_name is None else display_name,
            "team": self.team_id,
        }
        if email is not None:
            profile["email"] = email
        return {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "real_name": real_name,
            "deleted": deleted,
            "tz": tz,
            "tz_label": tz_label,
            "tz_offset": tz_offset,
            "is_admin": is_admin,
            "is_owner": is_owner,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": is_bot,
            "is_app_user": False,
            "updated": int(datetime.now(UTC).timestamp()),
            "profile": profile,
        }

    def _next_ts(self) -> str:
        n = next(self._ts_seq)
        return f"{1700000000 + n}.{n:06d}"

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._seq):08X}"

    def _message_content(self, params: dict[str, Any], *, require: bool = True) -> dict[str, Any]:
        """Validate text/blocks/attachments; return the fields present."""
        content: dict[str, Any] = {}
        if _present(params, "blocks"):
            content["blocks"] = _check_blocks(
                params["blocks"], MAX_MESSAGE_BLOCKS, "invalid_blocks"
            )
        if _present(params, "attachments"):
            attachments = params["attachments"]
            if not isinstance(attachments, list):
                raise SlackError("invalid_attachments")
            content["attachments"] = attachments
        if params.get("text") is not None:
            text = str(params["text"])
            if len(text) > MAX_MESSAGE_TEXT_CHARS:
                raise SlackError("msg_too_long")
            content["text"] = text
        if require and not (content.get("text") or "blocks" in content or "attachments" in content):
            raise SlackError("no_text")
        return content

    def _public(self, msg: dict[str, Any]) -> dict[str, Any]:
        return {k: copy.deepcopy(v) for k, v in msg.items() if k not in ("replies", "history")}

    def _permalink(self, channel: str, ts: str, thread_ts: str | None = None) -> str:
        link = f"https://{self.team_domain}.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        if thread_ts and thread_ts != ts:
            link += f"?thread_ts={thread_ts}&cid={channel}"
        return link

    def _parse_view(self, params: dict[str, Any], *, kind: str) -> dict[str, Any]:
        view = params.get("view")
        if not isinstance(view, dict):
            raise SlackError("invalid_arguments", "[ERROR] missing required field: view")
        if view.get("type") != kind:
            raise SlackError("invalid_arguments", f"[ERROR] view.type must be '{kind}'")
        _check_blocks(view.get("blocks", []), MAX_VIEW_BLOCKS, "invalid_arguments")
        if kind == "modal":
            title = view.get("title")
            if not isinstance(title, dict) or not isinstance(title.get("text"), str):
                raise SlackError("invalid_arguments", "[ERROR] missing required field: title")
            for key in ("title", "submit", "close"):
                obj = view.get(key)
                if obj is None:
                    continue
                if not isinstance(obj, dict) or obj.get("type") != "plain_text":
                    raise SlackError("invalid_arguments", f"[ERROR] {key} must be plain_text")
                if len(obj.get("text", "")) > MAX_VIEW_TITLE_CHARS:
                    raise SlackError(
                        "invalid_arguments",
                        f"[ERROR] must be less than {MAX_VIEW_TITLE_CHARS + 1} characters "
                        f"[json-pointer:/view/{key}/text]",
                    )
            has_input = any(b.get("type") == "input" for b in view.get("blocks", []))
            if has_input and "submit" not in view:
                raise SlackError(
                    "invalid_arguments", "[ERROR] submit is required with input blocks"
                )
        if len(str(view.get("private_metadata", ""))) > MAX_PRIVATE_METADATA_CHARS:
            raise SlackError("invalid_arguments", "[ERROR] private_metadata is too long")
        if len(str(view.get("callback_id", ""))) > 255:
            raise SlackError("invalid_arguments", "[ERROR] callback_id is too long")
        return view

    def _view_object(
        self, view: dict[str, Any], view_id: str, previous: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "id": view_id,
            "team_id": self.team_id,
            "type": view["type"],
            "blocks": copy.deepcopy(view.get("blocks", [])),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{hashlib.sha1(view_id.encode() + str(next(self._seq)).encode()).hexdigest()[:8]}",  # noqa: S324
            "title": copy.deepcopy(view.get("title")),
            "close": copy.deepcopy(view.get("close")),
            "submit": copy.deepcopy(view.get("submit")),
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "external_id": view.get("external_id", ""),
            "previous_view_id": previous.get("previous_view_id") if previous else None,
            "root_view_id": previous["root_view_id"] if previous else view_id,
            "app_id": self.app_id,
            "bot_id": self.bot_id,
        }
        return obj

    def _use_trigger(self, params: dict[str, Any]) -> str:
        trigger_id = params.get("trigger_id")
        if not trigger_id:
            raise SlackError("invalid_arguments", "[ERROR] missing required field: trigger_id")
        if trigger_id not in self._triggers or trigger_id in self._used_triggers:
            raise SlackError("invalid_trigger_id")
        if self.clock() - self._triggers[trigger_id] > TRIGGER_TTL_SECONDS:
            self._used_triggers.add(trigger_id)
            raise SlackError("expired_trigger_id")
        return str(trigger_id)

    def _store_view(self, obj: dict[str, Any], action: str) -> None:
        if obj.get("external_id"):
            for other in self._views_by_id.values():
                if other["id"] != obj["id"] and other.get("external_id") == obj["external_id"]:
                    raise SlackError("duplicate_external_id")
        self._views_by_id[obj["id"]] = obj
        self.views.append({**copy.deepcopy(obj), "action": action})


# ---------------------------------------------------------------------- API methods


def _auth_test(fake: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    return {
        "ok": True,
        "url": f"https://{fake.team_domain}.slack.com/",
        "team": fake.team_name,
        "user": fake.users[fake.bot_user_id]["name"],
        "team_id": fake.team_id,
        "user_id": fake.bot_user_id,
        "bot_id": fake.bot_id,
        "is_enterprise_install": False,
    }


def _chat_post_message(fake: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    channel = params.get("channel")
    if not channel:
        raise SlackError("channel_not_found")
    content = fake._message_content(params)
    thread_ts = params.get("thread_ts") or None
    root = None
    if thread_ts is not None:
        root = fake._by_ts.get((channel, str(thread_ts)))
        if root is None or "replies" not in root:
            raise SlackError("thread_not_found")
    ts = fake._next_ts()
    msg: dict[str, Any] = {
        "type": "message",
        "channel": channel,
        "ts": ts,
        "user": fake.bot_user_id,
        "bot_id": fake.bot_id,
        "app_id": fake.app_id,
        "team": fake.team_id,
        "text": content.get("text", ""),
        # False when blocks/attachments came without a top-level fallback text.
        "has_fallback_text": bool(content.get("text")),
    }
    for key in ("blocks", "attachments"):
        if key in content:
            msg[key] = copy.deepcopy(content[key])
    for key in ("metadata", "username", "icon_emoji", "icon_url"):
        if _present(params, key):
            msg[key] = copy.deepcopy(params[key])
    if root is not None:
        msg["thread_ts"] = root["ts"]
        msg["parent_user_id"] = root["user"]
        msg["reply_broadcast"] = _truthy(params.get("reply_broadcast", False))
        root["replies"].append(msg)
        root["thread_ts"] = root["ts"]
        root["reply_count"] = len(root["replies"])
        root["latest_reply"] = ts
    else:
        msg["replies"] = []
        fake._roots.setdefault(channel, []).append(msg)
    fake._by_ts[(channel, ts)] = msg
    return {"ok": True, "channel": channel, "ts": ts, "message": fake._public(msg)}


def _chat_update(fake: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    channel, ts = params.get("channel"), params.get("ts")
    msg = fake._by_ts.get((str(channel), str(ts)))
    if msg is None:
        raise SlackError("message_not_found")
    content = fake._message_content(params, require=False)
    if not content:
        raise SlackError("no_text")
    previous = {k: copy.deepcopy(msg[k]) for k in ("text", "blocks", "attachments") if k in msg}
    msg.setdefault("history", []).append(previous)
    if "text" in content:
        msg["text"] = content["text"]
    for key in ("blocks", "attachments"):
        # Slack keeps previous blocks/attachments when the field is omitted; [] clears them.
        if key in params and params[key] is not None:
            msg[key] = copy.deepcopy(params[key]) if params[key] != "" else []
    msg["has_fallback_text"] = bool(msg.get("text"))
    msg["edited"] = {"user": fake.bot_user_id, "ts": fake._next_ts()}
    return {
        "ok": True,
        "channel": channel,
        "ts": ts,
        "text": msg["text"],
        "message": fake._public(msg),
    }


def _chat_delete(fake: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    channel, ts = str(params.get("channel")), str(params.get("ts"))
    msg = fake._by_ts.pop((channel, ts), None)
    if msg is None:
        raise SlackError("message_not_found")
    if msg.get("thread_ts") and msg["thread_ts"] != ts:
        root = fake._by_ts[(channel, msg["thread_ts"])]
        root["replies"].remove(msg)
        root["reply_count"] = len(root["replies"])
    else:
        fake._roots[channel].remove(msg)
    return {"ok": True, "channel": channel, "ts": ts}


def _chat_post_ephemeral(fake: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    channel, user = params.get("channel"), params.get("user")
    if not channel:
        raise SlackError("channel_not_found")
    if not user:
        raise SlackError("user_not_found")
    content = fake._message_content(params)
    thread_ts = params.get("thread_ts") or None
    ts = fake._next_ts()
    entry: dict[str, Any] = {
        "channel": channel,
        "user": user,
        "ts": ts,
        "text": content.get("text", ""),
        "has_fallback_text": bool(content.get("text")),
        "thread_ts": thread_ts,
    }
    for key in ("blocks", "attachments"):
        if key in content:
            entry[key] = copy.deepcopy(content[key])
    fake.ephemerals.append(entry)
    return {"ok": True, "message_ts": ts}


def _chat_get_permalink(fake: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    channel, ts = str(params.get("channel")), str(params.get("message_ts"))
    msg = fake._by_ts.get((channel, ts))
    if msg is None:
        raise SlackError("message_not_found")
    return {
        "ok": True,
        "channel": channel,
        "permalink": fake._permalink(channel, ts, msg.get("thread_ts")),
    }


def _conversations_open(fake: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    if _present(params, "channel"):
        return {"ok": True, "channel": {"id": params["channel"]}}
    users = params.get("users")
    if isinstance(users, str):
        users = [u.strip() for u in users.split(",") if u.strip()]
    if not users:
        raise SlackError("users_list_not_supplied")
    if len(users) == 1:
        channel_id = f"D{users[0]}"
        return {"ok": True, "channel": {"id": channel_id, "is_im": True, "user": users[0]}}
    digest = hashlib.sha1(",".join(sorted(users)).encode()).hexdigest()[:10].upper()  # noqa: S324
    return {"ok": True, "channel": {"id": f"G{digest}", "is_mpim": True}}


def _users_info(fake: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    user = fake.users.get(str(params.get("user")))
    if user is None:
        raise SlackError("user_not_found")
    return {"ok": True, "user": copy.deepcopy(user)}


def _views_open(fake: FakeSlack, params: dict[str, Any], action: str = "open") -> dict[str, Any]:
    fake._use_trigger(params)
    view = fake._parse_view(params, kind="modal")
    trigger_id = str(params["trigger_id"])
    obj = fake._view_object(view, fake._new_id("V"))
    fake._store_view(obj, action)
    fake._used_triggers.add(trigger_id)
    return {"ok": True, "view": copy.deepcopy(obj)}


def _views_push(fake: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    return _views_open(fake, params, action="push")


def _views_update(fake: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    current = None
    if _present(params, "view_id"):
        current = fake._views_by_id.get(str(params["view_id"]))
    elif _present(params, "external_id"):
        current = next(
            (
                v
                for v in fake._views_by_id.values()
                if v.get("external_id") == params["external_id"]
            ),
            None,
        )
    else:
        raise SlackError("invalid_arguments", "[ERROR] view_id or external_id is required")
    if current is None:
        raise SlackError("not_found")
    if _present(params, "hash") and params["hash"] != current["hash"]:
        raise SlackError("hash_conflict")
    view = fake._parse_view(params, kind=current["type"])
    obj = fake._view_object(view, current["id"], previous=current)
    fake._store_view(obj, "update")
    return {"ok": True, "view": copy.deepcopy(obj)}


def _views_publish(fake: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    user_id = params.get("user_id")
    if not user_id:
        raise SlackError("invalid_arguments", "[ERROR] missing required field: user_id")
    view = fake._parse_view(params, kind="home")
    current = fake.home_views.get(str(user_id))
    if current is not None and _present(params, "hash") and params["hash"] != current["hash"]:
        raise SlackError("hash_conflict")
    view_id = current["id"] if current else fake._new_id("V")
    obj = fake._view_object(view, view_id)
    fake.home_views[str(user_id)] = obj
    fake._views_by_id[view_id] = obj
    return {"ok": True, "view": copy.deepcopy(obj)}


def _files_get_upload_url(fake: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    filename = params.get("filename")
    try:
        length = int(params.get("length", ""))
    except (TypeError, ValueError):
        length = -1
    if not filename or length < 0:
        raise SlackError("invalid_arguments", "[ERROR] filename and length are required")
    file_id = fake._new_id("F")
    fake._uploads[file_id] = {"filename": filename, "length": length, "content": None}
    return {"ok": True, "upload_url": f"{fake.base_url}/upload/{file_id}", "file_id": file_id}


def _files_complete_upload(fake: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    files = params.get("files")
    if not isinstance(files, list) or not files:
        raise SlackError("invalid_arguments", "[ERROR] files must be a non-empty JSON array")
    channel_id = params.get("channel_id") or None
    channels = params.get("channels") or None
    if isinstance(channels, str):
        channels = [c for c in channels.split(",") if c]
    if channel_id is None and channels:
        channel_id = channels[0]
    thread_ts = params.get("thread_ts") or None
    if thread_ts is not None:
        root = fake._by_ts.get((str(channel_id), str(thread_ts)))
        if root is None or "replies" not in root:
            raise SlackError("thread_not_found")
    for f in files:
        upload = fake._uploads.get(str(f.get("id"))) if isinstance(f, dict) else None
        if upload is None or upload["content"] is None:
            raise SlackError("file_not_found")
    out = []
    for f in files:
        file_id = str(f["id"])
        upload = fake._uploads.pop(file_id)
        title = f.get("title") or upload["filename"]
        fake.files[file_id] = {
            "filename": upload["filename"],
            "title": title,
            "content": upload["content"],
            "channel_id": channel_id,
            "channels": channels or ([channel_id] if channel_id else []),
            "initial_comment": params.get("initial_comment"),
            "thread_ts": thread_ts,
        }
        out.append(
            {
                "id": file_id,
                "name": upload["filename"],
                "title": title,
                "size": len(upload["content"]),
                "user": fake.bot_user_id,
                "permalink": f"https://{fake.team_domain}.slack.com/files/{fake.bot_user_id}/{file_id}",
            }
        )
    return {"ok": True, "files": out}


def _files_info(fake: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    shared = fake.shared_files.get(str(params.get("file") or ""))
    if shared is None:
        raise SlackError("file_not_found")
    return {"ok": True, "file": copy.deepcopy(shared["info"])}


def _with_metadata(msg: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """A message as the history methods return it: metadata only when asked for."""
    out = {k: copy.deepcopy(v) for k, v in msg.items() if k not in ("replies", "metadata")}
    if _truthy(params.get("include_all_metadata")) and "metadata" in msg:
        out["metadata"] = copy.deepcopy(msg["metadata"])
    return out


def _conversations_history(fake: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    channel = str(params.get("channel") or "")
    if channel not in fake._roots:
        raise SlackError("channel_not_found")
    oldest = float(params.get("oldest") or 0)
    roots = [m for m in fake._roots[channel] if float(m["ts"]) > oldest]
    newest_first = [_with_metadata(m, params) for m in reversed(roots)]
    limit = int(params.get("limit") or 100)
    return {"ok": True, "messages": newest_first[:limit], "has_more": len(roots) > limit}


def _conversations_replies(fake: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    root = fake._by_ts.get((str(params.get("channel")), str(params.get("ts"))))
    if root is None or "replies" not in root:
        raise SlackError("thread_not_found")
    messages = [_with_metadata(m, params) for m in [root, *root["replies"]]]
    return {"ok": True, "messages": messages, "has_more": False}


_METHODS: dict[str, Callable[[FakeSlack, dict[str, Any]], dict[str, Any]]] = {
    "conversations.history": _conversations_history,
    "conversations.replies": _conversations_replies,
    "auth.test": _auth_test,
    "chat.postMessage": _chat_post_message,
    "chat.update": _chat_update,
    "chat.delete": _chat_delete,
    "chat.postEphemeral": _chat_post_ephemeral,
    "chat.getPermalink": _chat_get_permalink,
    "conversations.open": _conversations_open,
    "users.info": _users_info,
    "views.open": _views_open,
    "views.push": _views_push,
    "views.update": _views_update,
    "views.publish": _views_publish,
    "files.getUploadURLExternal": _files_get_upload_url,
    "files.completeUploadExternal": _files_complete_upload,
    "files.info": _files_info,
}


# ---------------------------------------------------------------------- HTTP plumbing


def _json_answer(body: dict[str, Any], status: int = 200) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json; charset=utf-8"}, json.dumps(body).encode()


def _text_answer(status: int, text: str) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "text/plain; charset=utf-8"}, text.encode()


def _failure_answer(failure: _Failure) -> tuple[int, dict[str, str], bytes]:
    if failure.status == DROPPED and failure.error is None:
        return DROPPED, {}, b""
    if failure.error is not None:
        return _json_answer({"ok": False, "error": failure.error})
    if failure.status == 429:
        status, headers, body = _json_answer({"ok": False, "error": "ratelimited"}, 429)
        if failure.retry_after is not None:
            headers["Retry-After"] = str(failure.retry_after)
        return status, headers, body
    if failure.status == 500:
        return _text_answer(500, "internal error")
    return _text_answer(failure.status, "error")


def _parse_multipart(content_type: str, data: bytes) -> dict[str, Any]:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + data)
    out: dict[str, Any] = {}
    if not msg.is_multipart():
        return out
    for part in msg.iter_parts():  # type: ignore[attr-defined]
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if part.get_filename() is not None:
            out[str(name)] = payload
        else:
            out[str(name)] = payload.decode("utf-8", "replace")
    return out


def _parse_params(query: str, content_type: str, body: bytes) -> dict[str, Any]:
    params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    ctype = content_type.lower()
    if body:
        if ctype.startswith("application/json"):
            decoded = json.loads(body.decode("utf-8"))
            if isinstance(decoded, dict):
                params.update(decoded)
        elif ctype.startswith("multipart/form-data"):
            params.update(_parse_multipart(content_type, body))
        else:
            params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    params = {k: v for k, v in params.items() if v is not None}
    for key in JSON_FIELDS:
        value = params.get(key)
        if isinstance(value, str) and value.strip():
            try:
                params[key] = json.loads(value)
            except json.JSONDecodeError:
                pass  # left as a string; the handler rejects it
    return params


class _Handler(BaseHTTPRequestHandler):
    owner: FakeSlack
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, answer: tuple[int, dict[str, str], bytes]) -> None:
        status, headers, body = answer
        if status == DROPPED:  # a network error: the client sees the connection closed
            self.close_connection = True
            return
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _dispatch(self) -> None:
        if self.owner.latency:
            time.sleep(self.owner.latency)  # on this request's own thread, as a slow network
        parts = urlsplit(self.path)
        path = parts.path
        body = self._read_body()
        content_type = self.headers.get("Content-Type") or ""
        if path.startswith("/api/"):
            method = path[len("/api/") :]
            try:
                params = _parse_params(parts.query, content_type, body)
            except (UnicodeDecodeError, json.JSONDecodeError):
                self._send(_json_answer({"ok": False, "error": "invalid_json"}))
                return
            self._send(self.owner._handle_api(method, params, self.headers.get("Authorization")))
        elif path.startswith("/upload/") and self.command == "POST":
            self._send(self.owner._handle_upload(path[len("/upload/") :], body, content_type))
        elif path.startswith("/response/") and self.command == "POST":
            self._send(self.owner._handle_response_url(path[len("/response/") :], body))
        elif path.startswith("/files-pri/") and self.command == "GET":
            auth = self.headers.get("Authorization")
            self._send(self.owner._handle_download(path[len("/files-pri/") :], auth))
        else:
            self._send(_text_answer(404, "not found"))

    do_POST = _dispatch
    do_GET = _dispatch
