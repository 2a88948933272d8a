"""Where a pin on the body diagram lands, as a HAM10000 body site.

The diagram (templates/lesions/_body_figure.html, drawn twice in a 200 x 250 box) shows the front view on its left
half and the back view on its right half; a pin's `diagram_x` spans both views (0..1) and `diagram_y` the height
(0..1). Inside one view the figure is 100 units wide: a head centred at (50, 22), the neck below it, the torso from
y 44 to 118 with the arms either side of it (hands below y 112), and the legs down to y 230.
"""

from lesions.models import BodySite

DIAGRAM_WIDTH, DIAGRAM_HEIGHT = 200, 250
VIEW_WIDTH = DIAGRAM_WIDTH / 2


def body_site_at(x: float, y: float) -> str:
    """The body site under a pin at (x, y) of the diagram; `unknown` off the figure."""
    front = x < 0.5
    local_x = (x * DIAGRAM_WIDTH) % VIEW_WIDTH if x < 1 else VIEW_WIDTH
    local_y = y * DIAGRAM_HEIGHT
    across = abs(local_x - VIEW_WIDTH / 2)  # distance from the figure's midline
    if local_y < 8 or local_y > 236:
        return BodySite.UNKNOWN
    if local_y < 34:
        if across > 16:
            return BodySite.UNKNOWN
        if across > 11 and 14 <= local_y <= 30:
            return BodySite.EAR
        return BodySite.FACE if front else BodySite.SCALP
    if local_y < 44:
        return BodySite.NECK if across <= 8 else BodySite.UNKNOWN
    if local_y < 118 and across <= 24:
        if not front:
            return BodySite.BACK
        if local_y >= 106 and across <= 8:
            return BodySite.GENITAL
        return BodySite.CHEST if local_y < 80 else BodySite.ABDOMEN
    if local_y < 136 and across > 22:
        if across > 46:
            return BodySite.UNKNOWN
        return BodySite.HAND if local_y >= 112 else BodySite.UPPER_EXTREMITY
    if local_y >= 116 and across <= 24:
        return BodySite.FOOT if local_y >= 220 else BodySite.LOWER_EXTREMITY
    return BodySite.UNKNOWN


def site_of_new_lesion(body_site: str, x: float | None, y: float | None) -> str:
    """A new lesion pinned on the diagram with its site left `unknown` takes the site under its pin; a site the
    clinician chose stands."""
    if body_site == BodySite.UNKNOWN and x is not None and y is not None:
        return body_site_at(x, y)
    return body_site
