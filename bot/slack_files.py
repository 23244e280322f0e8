"""Files to Slack with the files v2 flow, in its two halves: send the bytes (nothing shows
yet), then share the file in a channel with its comment.

The same three calls as `WebClient.files_upload_v2`, which reads a whole file into memory
first (an export of a million rows is over 100 MB) and does not say which call failed: a
failure before the share left nothing in the channel and may be tried again; one during the
share may have posted it.
"""

from __future__ import annotations

import io
import os
import urllib.request
from pathlib import Path
from typing import BinaryIO

from slack_sdk import WebClient
from slack_sdk.errors import SlackRequestError


def send_file(
    client: WebClient, *, filename: str, body: BinaryIO, size: int, alt_txt: str | None = None
) -> str:
    """Send a file's bytes to Slack, streamed from `body`; return its id (not shared yet).

    :raise SlackApiError: Slack refused the upload.
    :raise SlackRequestError: the upload URL did not accept the bytes.
    """
    asked = {"alt_txt": alt_txt} if alt_txt else {}
    target = client.files_getUploadURLExternal(filename=filename, length=size, **asked)
    file_id, upload_url = str(target["file_id"]), str(target["upload_url"])
    if not upload_url.startswith(("https://", "http://")):
        raise SlackRequestError(f"unexpected upload URL from Slack: {upload_url[:40]}")
    handlers: list[urllib.request.BaseHandler] = [urllib.request.HTTPSHandler(context=client.ssl)]
    if client.proxy:
        handlers.append(urllib.request.ProxyHandler({"http": client.proxy, "https": client.proxy}))
    opener = urllib.request.build_opener(*handlers)
    # A file object as the body: http.client sends it in blocks, never all at once.
    request = urllib.request.Request(  # noqa: S310 (the URL Slack gave, checked above)
        upload_url,
        data=body,
        method="POST",
        headers={"Content-Length": str(size), "Content-Type": "application/octet-stream"},
    )
    with opener.open(request, timeout=client.timeout) as answer:
        answer.read()
        if answer.status != 200:
            raise SlackRequestError(f"the upload URL answered HTTP {answer.status}")
    return file_id


def share_file(
    client: WebClient, *, file_id: str, channel: str, title: str, initial_comment: str
) -> None:
    """Share a sent file in a channel, with a message (`initial_comment`) above it.

    :raise SlackApiError: Slack refused it (or answered 5xx: it may be shared all the same).
    """
    client.files_completeUploadExternal(
        files=[{"id": file_id, "title": title}],
        channel_id=channel,
        initial_comment=initial_comment,
    )


def upload_file(
    client: WebClient, *, channel: str, path: Path, title: str, initial_comment: str
) -> str:
    """Post a file from disk to a channel; return its id.

    :raise SlackApiError: Slack refused the upload.
    :raise SlackRequestError: the upload URL did not accept the bytes.
    """
    with path.open("rb") as body:
        file_id = send_file(client, filename=path.name, body=body, size=os.path.getsize(path))
    share_file(
        client, file_id=file_id, channel=channel, title=title, initial_comment=initial_comment
    )
    return file_id


def upload_bytes(
    client: WebClient,
    *,
    channel: str,
    filename: str,
    content: bytes,
    title: str,
    initial_comment: str,
    alt_txt: str | None = None,
) -> str:
    """Post bytes (an image, with its alt text) to a channel as a file; return its id.

    :raise SlackApiError: Slack refused the upload.
    :raise SlackRequestError: the upload URL did not accept the bytes.
    """
    file_id = send_file(
        client, filename=filename, body=io.BytesIO(content), size=len(content), alt_txt=alt_txt
    )
    share_file(
        client, file_id=file_id, channel=channel, title=title, initial_comment=initial_comment
    )
    return file_id
