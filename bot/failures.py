"""What to tell a person whose Slack request failed for a reason that is not a refusal.

One owner for the wording, used by the listeners' guard (handlers/errors.py) and Bolt's error
handler (bot/slack.py): an unreachable database is said as such, anything else is an apology.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

DATABASE_DOWN = (
    ":warning: reviewops cannot reach its database; nothing was changed — try again in a minute."
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
    return SORRY
