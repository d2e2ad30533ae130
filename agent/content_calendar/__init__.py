"""The content calendar: schema, loading with line-numbered errors, and slot planning."""
