"""The ``reeltwin`` command line: one module per command group.

Every ``*_cmd.py`` module looks the same from outside:

- its commands are module-level functions (no closures), so tests can import and call them;
- it exposes ``register(root: typer.Typer) -> None``, the only thing ``main.py`` calls: a module of
  top-level commands adds them with ``root.command(name)(function)``; a command group (``calendar``,
  ``voice``...) keeps its sub-Typer as the module's ``app`` and adds it with ``root.add_typer``;
- a command that reports something takes ``--json`` and then prints exactly one JSON object on stdout
  (``context.print_json``) and nothing else there;
- a user error is raised as an ``agent.errors.AgentError``: the root group prints it as one
  ``error: ...`` line on stderr and exits with ``EXIT_USER_ERROR`` (``context.fail``). A ``--json``
  report that already says what failed (``calendar check``, ``doctor``) exits with ``context.exit_user_error()``.
"""
