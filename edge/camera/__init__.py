"""CCTV camera support for the edge: motion episodes, camera health and tamper detection.

Pure core: config, schedule, motion, episodes, health. Adapters: sources (the only user of
cv2.VideoCapture), snapshot (JPEG encoding), worker (the thread that wires them to `emit`).
Import the submodules you need; this package imports nothing heavy by itself.
"""
