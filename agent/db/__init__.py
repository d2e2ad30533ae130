"""The database: tables, the reel state machine, engines and migrations."""
