"""Enrollment of a creator's face (avatars) and voice, with one set of naming and consent rules."""
