"""Network architectures built from core.leras layers."""
