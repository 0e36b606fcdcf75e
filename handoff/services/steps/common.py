"""What the handoff's steps share."""

ATTRIBUTE_MAX = 1500  # C.1: longer custom attribute strings are a 422


class HandoffImpossible(Exception):
    """This lead cannot be handed off as it is (e.g. no usable phone); retrying will not help."""
