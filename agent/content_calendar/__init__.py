"""The content calendar: schema, loading with line-numbered errors, slot planning, and the changes made on the calendar grid
(moves, skips, added reels) kept beside the calendar file."""
