"""The scheduler's jobs: render and publish claimed reels under one lease mechanism, refresh audience insights."""
