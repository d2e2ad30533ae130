"""Named index sets of mediapipe's 478-point face mesh (468 + 10 iris points with refine_landmarks).

"Left"/"right" are as seen in the image (the subject's right eye is the image's left).
"""

from __future__ import annotations

FOREHEAD = 10
CHIN = 152
NOSE_TIP = 1
NOSE_BOTTOM = 2

# Lips: corners, outer and inner contours (image-left corner first).
MOUTH_LEFT = 61
MOUTH_RIGHT = 291
INNER_LEFT = 78
INNER_RIGHT = 308
UPPER_LIP_INNER_MID = 13
LOWER_LIP_INNER_MID = 14
UPPER_LIP_OUTER_MID = 0
LOWER_LIP_OUTER_MID = 17
LIPS_OUTER_UPPER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
LIPS_OUTER_LOWER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
LIPS_INNER_UPPER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LIPS_INNER_LOWER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)

# Eyes: outer corner, inner corner, upper lid, lower lid (each lid from the image-left corner).
EYE_IMAGE_LEFT = {
    "corners": (33, 133),
    "upper": (33, 246, 161, 160, 159, 158, 157, 173, 133),
    "lower": (33, 7, 163, 144, 145, 153, 154, 155, 133),
    "top": 159,
    "bottom": 145,
    "iris": 468,
}
EYE_IMAGE_RIGHT = {
    "corners": (362, 263),
    "upper": (362, 398, 384, 385, 386, 387, 388, 466, 263),
    "lower": (362, 382, 381, 380, 374, 373, 390, 249, 263),
    "top": 386,
    "bottom": 374,
    "iris": 473,
}
BROW_IMAGE_LEFT = (70, 63, 105, 66, 107, 46, 53, 52, 65, 55)
BROW_IMAGE_RIGHT = (300, 293, 334, 296, 336, 276, 283, 282, 295, 285)

FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152,
             148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)
JAW = (172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397)
CHEEK_IMAGE_LEFT = (50, 101, 118, 117, 123, 187, 205)
CHEEK_IMAGE_RIGHT = (280, 330, 347, 346, 352, 411, 425)

# Points that a talking mouth does not move: identity drift is measured on these.
STABLE = (33, 133, 362, 263, 1, 2, 4, 6, 168, 197, 195, 5, 98, 327, 234, 454, 127, 356, 70, 300, 105, 334, 10)

# A generic 3D face (millimetres, y up, z toward the camera) for head-pose estimation with solvePnP.
POSE_MODEL_POINTS = {
    NOSE_TIP: (0.0, 0.0, 0.0),
    CHIN: (0.0, -63.6, -12.5),
    33: (-43.3, 32.7, -26.0),
    263: (43.3, 32.7, -26.0),
    MOUTH_LEFT: (-28.9, -28.9, -24.1),
    MOUTH_RIGHT: (28.9, -28.9, -24.1),
}
