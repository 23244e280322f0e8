"""What a person is told when reviewops is not installed in their workspace."""

NOT_INSTALLED = (
    "reviewops is not installed in this workspace, so it can't do anything here. "
    "Ask an admin of your workspace to install it (or to install it again)."
)
