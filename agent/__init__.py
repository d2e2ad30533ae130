"""ReelTwin, the application: settings, database, calendar planning, queue, CLI.

Heavy libraries are imported inside the functions that use them so that
``reeltwin --help`` stays fast.
"""

__version__ = "0.1.0"
