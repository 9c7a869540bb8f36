"""The one exception a user should see as a one-line message (the CLI prints it, exits 2)."""


class UserError(Exception):
    """Bad input from the user: a missing file, an unknown name, a bad setting."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, `kill` or a closed terminal during a run: the CLI prints the message and exits 130."""
