"""What to tell a person whose Slack request failed for a reason that is not a refusal.

One owner for the wording, used by the listeners' guard (handlers/errors.py) and Bolt's error
handler (bot/slack.py): an unreachable database is said as such, a form Slack no longer lets
us open too, anything else is an apology.
"""

from __future__ import annotations

from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

DATABASE_DOWN = (
    ":warning: reviewops cannot reach its database; nothing was changed — try again in a minute."
)
FORM_TOO_LATE = (
    ":hourglass_flowing_sand: Slack gives an app 3 seconds to open a form, and reviewops was too "
    "busy to make it this time. Nothing was changed; please try again."
)
SORRY = (
    ":face_with_head_bandage: Sorry, something went wrong on our side and it was logged. "
    "Nothing else changed; please try again in a moment."
)


def failure_text(error: BaseException) -> str:
    """Return the user's message for an unexpected error: the database's outage, or an apology."""
    # A refused connection, a dropped one or a full pool: the database, not our code.
    if isinstance(error, DBAPIError | PoolTimeout):
        return DATABASE_DOWN
    # A form's trigger_id lives 3 s: a click queued behind many answers can outlive it.
    if isinstance(error, SlackApiError) and error.response.get("error") == "expired_trigger_id":
        return FORM_TOO_LATE
    return SORRY
