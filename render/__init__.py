"""ReelTwin's rendering library: voice, alignment, face, avatar, captions, composition, QA.

A library: it takes plain values (paths, text, its own small config models) and
returns plain values; it never imports ``agent`` or ``publishing`` and never
reads the application's settings or the environment.
"""


class RenderError(Exception):
    """Root of the rendering errors: the message names the input and the fix."""
