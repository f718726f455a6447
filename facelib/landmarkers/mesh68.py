"""The fixed table mapping MediaPipe's 468 FaceMesh vertices onto the 68 iBUG points.

Each iBUG point is a blend `w * mesh[a] + (1 - w) * mesh[b]` of two neighbouring mesh vertices (a == b for a
single vertex). The pairs and weights were chosen once, offline, as those closest to dlib's 68-point predictor
on rotated, scaled and mirrored versions of the bundled photos, with blends only between vertices less than
0.2 inter-ocular distances apart (interpolation along a contour, never across the face). Checked across
identities (fit on one photo, measured on the other): 5.6 % of the inter-ocular distance on average,
against 6.9 % for the best one-vertex-per-point table.
"""
from __future__ import annotations

import numpy as np

# MESH_TO_68[i] = (a, b, w): iBUG point i = w * mesh[a] + (1 - w) * mesh[b].
MESH_TO_68 = np.array([
    # jaw 0-16
    (34, 227, 0.75), (123, 227, 0.5), (147, 177, 0.75), (192, 215, 0.5), (172, 172, 0.5), (136, 150, 0.5), (149, 149, 0.5), (148, 176, 0.75), (152, 152, 0.5), (377, 400, 0.75), (378, 378, 0.5), (379, 394, 0.5), (365, 397, 0.25), (416, 435, 0.5), (376, 433, 0.75), (352, 447, 0.75), (264, 345, 0.75),
    # right brow 17-21 (image left)
    (46, 156, 0.5), (53, 63, 0.5), (52, 66, 0.75), (65, 66, 0.5), (55, 107, 0.75),
    # left brow 22-26
    (285, 336, 0.5), (295, 296, 0.75), (282, 296, 0.75), (293, 445, 0.75), (276, 383, 0.5),
    # nose bridge 27-30
    (6, 168, 0.5), (196, 419, 0.5), (5, 5, 0.5), (1, 4, 0.5),
    # nostrils 31-35
    (98, 99, 0.5), (167, 238, 0.5), (94, 164, 0.25), (393, 458, 0.5), (290, 327, 0.5),
    # right eye 36-41
    (110, 161, 0.5), (29, 159, 0.25), (56, 158, 0.25), (26, 133, 0.25), (23, 154, 0.5), (23, 144, 0.25),
    # left eye 42-47
    (341, 381, 0.75), (286, 385, 0.25), (386, 388, 0.75), (263, 390, 0.5), (253, 390, 0.5), (253, 381, 0.5),
    # outer lip 48-59
    (61, 183, 0.75), (39, 80, 0.5), (13, 37, 0.25), (0, 13, 0.5), (267, 312, 0.75), (269, 272, 0.5), (291, 306, 0.25), (321, 405, 0.5), (313, 316, 0.5), (16, 18, 0.5), (83, 86, 0.5), (91, 181, 0.5),
    # inner lip 60-67
    (146, 183, 0.25), (82, 87, 0.75), (13, 15, 0.75), (312, 402, 0.75), (375, 407, 0.25), (316, 317, 0.75), (14, 15, 0.25), (85, 87, 0.25),
], dtype=np.float64)
_A = MESH_TO_68[:, 0].astype(np.int64)
_B = MESH_TO_68[:, 1].astype(np.int64)
_W = MESH_TO_68[:, 2:3]


def mesh_to_68(mesh: np.ndarray) -> np.ndarray:
    """68x2 float32 iBUG landmarks from a 468xD mesh (x, y first)."""
    xy = np.asarray(mesh, np.float64)[:, :2]
    return (_W * xy[_A] + (1.0 - _W) * xy[_B]).astype(np.float32)
