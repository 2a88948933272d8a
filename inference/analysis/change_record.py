"""What the change flag's measured record says, in words for the pages and the model card: read from the figures
`python -m inference.training.segmentation_eval` wrote, never computed at run time."""

import functools
import json
from pathlib import Path

from inference.paths import SEGMENTATION_METRICS_PATH

GROWTH_FACTOR = 1.2  # the growth the change tests require to be flagged


def grown_key(factor: float) -> str:
    return f"grown_x{factor}_lesion_pairs"


@functools.cache
def changed_flag_record(metrics_path: Path = SEGMENTATION_METRICS_PATH) -> str:
    """How often the change answers were right on validation photo pairs, in words; '' where it was not measured."""
    try:
        figures = json.loads(metrics_path.read_text())
        unchanged, grown = figures["unchanged_lesion_pairs"], figures[grown_key(GROWTH_FACTOR)]
    except (OSError, ValueError, KeyError):
        return ""
    return (
        f"Measured on {unchanged['pairs']} pairs of HAM10000 {unchanged['split']} photos of one lesion, mostly taken "
        f'on the same day: {unchanged["flagged_changed"]:.0%} of them read "changed" although the lesion had not '
        f'changed and {unchanged["cannot_tell"]:.0%} "cannot tell"; after the later photo\'s lesion was enlarged '
        f'by {GROWTH_FACTOR - 1:.0%}, {grown["flagged_changed"]:.0%} read "changed" and {grown["cannot_tell"]:.0%} '
        '"cannot tell". A flag is a prompt to compare the photos by eye; no flag does not rule out change.'
    )
