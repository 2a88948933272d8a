"""A lesion's PDF report: who and where, the photos, the classifier's results over time and the measured change."""

import io
import re
from xml.sax.saxutils import escape

from django.utils import timezone
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.platypus import Image, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from sharing.summary import LesionSummary

PHOTO_WIDTH = 7 * cm
PHOTOS_PER_ROW = 2
TABLE_STYLE = TableStyle(
    [
        ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
        ("FONTSIZE", (0, 0), (-1, -1), 8.5),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef2f5")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
)


def day(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d") if moment else "-"


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def lesion_report_pdf(summary: LesionSummary) -> bytes:
    styles = getSampleStyleSheet()
    text = styles["BodyText"]

    def paragraph(value: str, style=text) -> Paragraph:
        return Paragraph(escape(value), style)

    lesion, patient = summary.lesion, summary.patient
    story = [
        paragraph(f"Lesion report: {lesion}", styles["Title"]),
        paragraph(
            f"Patient: {patient.full_name}, born {patient.date_of_birth or 'unknown'}, record number "
            f"{patient.medical_record_number}, {patient.clinic}."
        ),
        paragraph(
            f"Lesion: {lesion} on the {lesion.get_body_site_display().lower()}; recorded {day(lesion.created_at)}; "
            f"{len(summary.photos)} photo(s), first {day(summary.first_photo_at)}, "
            f"latest {day(summary.latest_photo_at)}."
        ),
        paragraph(f"Report made {day(timezone.now())}."),
        Spacer(1, 0.4 * cm),
        paragraph("Results over time", styles["Heading2"]),
        results_table(summary, text),
        Spacer(1, 0.4 * cm),
    ]
    if summary.changes:
        story += [
            paragraph(
                f"Measured change from {day(summary.previous_photo_at)} to {day(summary.latest_photo_at)}",
                styles["Heading2"],
            ),
            change_table(summary),
            paragraph(summary.change_note, styles["Italic"]),
            Spacer(1, 0.4 * cm),
        ]
    story += [paragraph(summary.caveat, styles["Italic"]), *photo_grid(summary, text)]
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer, pagesize=A4, title=f"SkinTrack lesion report: {lesion}", author="SkinTrack", leftMargin=2 * cm
    )
    document.build(story)
    return buffer.getvalue()


def results_table(summary: LesionSummary, style) -> Table:
    rows = [["Photo taken", "By", "Most likely", "Second", "Malignancy score", "Model"]]
    for row in summary.photos:
        classes = [Paragraph(escape(f"{score.name} {score.probability:.0%}"), style) for score in row.top]
        classes += ["-"] * (2 - len(classes))
        rows.append(
            [
                day(row.taken_at),
                "patient" if row.image.taken_by_patient else "clinic",
                *classes,
                percent(row.prediction.malignancy if row.prediction else None),
                row.prediction.model_version.version if row.prediction else row.image.get_status_display(),
            ]
        )
    table = Table(rows, colWidths=[2.3 * cm, 1.4 * cm, 4.4 * cm, 4.4 * cm, 2.2 * cm, 2.5 * cm], repeatRows=1)
    table.setStyle(TABLE_STYLE)
    return table


def change_table(summary: LesionSummary) -> Table:
    rows = [["Measurement", "Before", "After", "Change"]]
    rows += [[change.label, f"{change.before:.4g}", f"{change.after:.4g}", change.figure] for change in summary.changes]
    table = Table(rows, colWidths=[5 * cm, 3 * cm, 3 * cm, 3 * cm])
    table.setStyle(TABLE_STYLE)
    return table


def photo_grid(summary: LesionSummary, style) -> list:
    cells = []
    for row in summary.photos:
        with row.image.thumbnail.open("rb") as stored:
            picture = Image(io.BytesIO(stored.read()))
        picture.drawHeight = PHOTO_WIDTH * picture.imageHeight / picture.imageWidth
        picture.drawWidth = PHOTO_WIDTH
        caption = f"{day(row.taken_at)}, {row.image.get_modality_display().lower()}"
        cells.append([picture, Paragraph(escape(caption), style)])
    if not cells:
        return []
    grid = [cells[index : index + PHOTOS_PER_ROW] for index in range(0, len(cells), PHOTOS_PER_ROW)]
    grid[-1] += [""] * (PHOTOS_PER_ROW - len(grid[-1]))
    table = Table(grid, colWidths=[PHOTO_WIDTH + 0.6 * cm] * PHOTOS_PER_ROW)
    return [KeepTogether([Spacer(1, 0.4 * cm), Paragraph("Photos", getSampleStyleSheet()["Heading2"])]), table]


def report_filename(summary: LesionSummary) -> str:
    label = re.sub(r"[^A-Za-z0-9]+", "-", str(summary.lesion)).strip("-").lower() or "lesion"
    return f"skintrack-{label}-{timezone.localdate():%Y-%m-%d}.pdf"
