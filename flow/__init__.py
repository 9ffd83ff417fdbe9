"""Optical flow between consecutive frames (OpenCV DIS/Farneback, optional ptlflow models)."""
