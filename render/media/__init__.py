"""Media plumbing every stage shares: finding and running ffmpeg (``ffmpeg``), describing a file's
streams (``probe``), decoding, resampling, measuring and writing audio (``audio``), and handing the memory a
stage freed back to the system before the next (``memory``).

Callers keep their own error classes and wording: each function takes the exception class
to raise and the fix its messages name.
"""
