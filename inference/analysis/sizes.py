"""The long sides, in pixels, a photo is brought down to for each kind of work on it.

Photos arrive at up to 12 megapixels; each step works on the smallest copy that keeps the detail it needs.
(The classifier's input size is not here: it comes with the model, in its metadata JSON.)
"""

# Outlines and measurements need no finer detail than this: a 12-megapixel phone photo measured at full size held
# the worker for about 9 s. The stored mask is at this size; pages and comparisons scale it to the photo.
OUTLINE_LONG_SIDE = 1024
# Comparing two photos at full size takes tens of seconds; ratios do not depend on the size, and the alignment finds
# any zoom between the two copies.
COMPARISON_LONG_SIDE = 1024
# The outline drawn over a photo on the comparison page.
OUTLINE_OVERLAY_LONG_SIDE = 1600
# The classical segmenter's colour statistics and thresholds.
SEGMENTATION_LONG_SIDE = 200
# The registration's coarse search over rotations and zooms.
REGISTRATION_LONG_SIDE = 160
# The photo gate's blur, exposure and outline checks.
GATE_LONG_SIDE = 96
