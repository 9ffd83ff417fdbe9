"""PoseTrack evaluation (mAP and MOTA with the official poseval semantics)."""
