"""Voice: enroll a creator's voice from a short sample and speak scripts in it."""
