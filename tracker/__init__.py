"""The tracking application: pipeline stages, FlowTrack association and the ``hrtrack`` CLI."""
