"""Quality checks of a finished reel: the Reels delivery spec, loudness, duration, lip sync, face visibility, caption placement.

``check_reel(path)`` returns a :class:`QAReport` of :class:`Check` results; ``write_report``
stores it as JSON beside the reel. mediapipe (for lip sync) is imported only when measured.
"""

from render.qa.checks import check_reel
from render.qa.report import Check, QAError, QAReport, ReelSpec, write_report

__all__ = ["Check", "QAError", "QAReport", "ReelSpec", "check_reel", "write_report"]
