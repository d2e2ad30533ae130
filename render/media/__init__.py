"""Media plumbing every stage shares: finding and running ffmpeg (``ffmpeg``), describing a file's
streams (``probe``), and decoding, resampling, measuring and writing audio (``audio``).

Callers keep their own error classes and wording: each function takes the exception class
to raise and the fix its messages name.
"""
