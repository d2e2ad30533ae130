"""Quality checks of a finished reel: the Reels delivery spec, loudness, duration, lip sync, face visibility, caption placement.

``check_reel(path)`` returns a :class:`render.types.QAReport` of :class:`render.types.Check`
results; ``write_report`` stores it as JSON beside the reel and ``read_report`` reads it back typed.
mediapipe (for lip sync) is imported only when measured. A render passes ``render=ComposeResult.qa``
(``render.qa.inrender``: what the composer measured on the frames and mix it encoded): the file is then probed
once and not decoded; a file alone (``reeltwin qa FILE``) is decoded and every frame tracked.
"""

from render.qa.checks import check_reel
from render.qa.report import QAError, ReelSpec, read_report, write_report

__all__ = ["QAError", "ReelSpec", "check_reel", "read_report", "write_report"]
