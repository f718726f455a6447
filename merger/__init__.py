"""Putting predicted faces back into frames: merge config, masked merge, frame loop, interactive merger."""
