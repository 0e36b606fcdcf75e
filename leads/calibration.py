"""The calibration sample: a share of the leads scored just below the threshold is handed off all the same, so the
conversion of the scores the threshold excludes is measured rather than guessed (HANDOFF_CALIBRATION_SHARE)."""

import hashlib

from django.conf import settings

BELOW = 2  # "just below": the threshold's two scores under it (the dashboard's band of the same name)


def calibration_scores(threshold: int | None = None) -> range:
    threshold = settings.HANDOFF_SCORE_THRESHOLD if threshold is None else threshold
    return range(max(threshold - BELOW, 1), threshold)


def calibration_drawn(lead, share: float | None = None) -> bool:
    """Whether this lead, scored just below the threshold, is in the sample (of HANDOFF_CALIBRATION_SHARE, or `share`).

    The draw is a hash of the lead's id rather than a fresh random number: a lead has one chance however often it is
    scored, a replayed request draws the same, and a test that picks the ids knows the answer.
    """
    share = settings.HANDOFF_CALIBRATION_SHARE if share is None else share
    if share <= 0 or lead.qualification_score not in calibration_scores():
        return False
    digest = hashlib.sha256(f"calibration:{lead.pk}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share
