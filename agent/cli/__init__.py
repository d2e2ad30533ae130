"""The ``reeltwin`` command line: one module per command group."""
