"""The trigger pipeline: what runs inside a deployed function."""
