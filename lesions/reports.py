"""A lesion's PDF report: who and where, the confirmed diagnosis and the clinician's review, then the classifier's
results over time, the measured change and the photos."""

import io
import re
from datetime import UTC, datetime
from xml.sax.saxutils import escape

from django.http import HttpResponse
from django.utils import timezone
from reportlab.graphics.charts.lineplots import LinePlot
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Image, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from lesions.display import probability_text
from lesions.summary import LesionSummary

PHOTO_WIDTH = 7 * cm
PHOTOS_PER_ROW = 2
CELL_FONT_SIZE = 8.5
CELL_PADDING = 12  # a table cell's left and right padding together (reportlab's default, 6 pt each)
TABLE_STYLE = TableStyle(
    [
        ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef2f5")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
)


def day(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d") if moment else "-"


def probability(value: float | None) -> str:
    return "-" if value is None else probability_text(value)


def lesion_report_pdf(summary: LesionSummary) -> bytes:
    lesion, patient = summary.lesion, summary.patient
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer, pagesize=A4, title=f"SkinTrack lesion report: {lesion}", author="SkinTrack", leftMargin=2 * cm
    )
    styles = getSampleStyleSheet()
    text = styles["BodyText"]
    # A heading is never the last line of a page: it goes over with what it introduces.
    heading2, heading3 = (
        ParagraphStyle(f"kept-{name}", parent=styles[name], keepWithNext=1) for name in ("Heading2", "Heading3")
    )
    cell = ParagraphStyle("cell", parent=text, fontSize=CELL_FONT_SIZE, leading=10)
    header = ParagraphStyle("header", parent=cell, fontName="Helvetica-Bold")

    def paragraph(value: str, style=text) -> Paragraph:
        return Paragraph(escape(value), style)

    def table(rows: list[list[str]], *, stretch: tuple[int, ...]) -> Table:
        return fitted_table(rows, width=document.width, stretch=stretch, style=cell, header_style=header)

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
        *clinical_summary(summary, paragraph, heading2),
        Spacer(1, 0.4 * cm),
        paragraph(summary.model_output_heading, heading2),
        paragraph("Results over time", heading3),
        table(results_rows(summary), stretch=(2, 3)),
        Spacer(1, 0.4 * cm),
        *malignancy_chart(summary),
        *size_table(summary, paragraph, styles["Heading3"]),
    ]
    if summary.changes:
        story += [
            paragraph(
                f"Measured change from {day(summary.previous_photo_at)} to {day(summary.latest_photo_at)}",
                heading2,
            ),
            *change_flag(summary, paragraph),
            table(change_rows(summary), stretch=(0,)),
            paragraph(summary.change_note, styles["Italic"]),
            Spacer(1, 0.4 * cm),
        ]
    story += [paragraph(summary.caveat, styles["Italic"]), *photo_grid(summary, text, heading2)]
    document.build(story)
    return buffer.getvalue()


def clinical_summary(summary: LesionSummary, paragraph, heading_style) -> list[Paragraph]:
    """What the clinic knows, before what the model estimates: diagnosis, review and plan, who to contact."""
    diagnosis, review = summary.diagnosis, summary.review
    lines = [f"Sent by {summary.sender_name}."] if summary.sender_name else []
    if summary.clinician_name:
        lines.append(f"Clinician: {summary.clinician_name}.")
    lines += [f"Clinic contact: {summary.clinic_contact}.", f"Status: {summary.lesion.get_status_display().lower()}."]
    if diagnosis is not None:
        note = f" ({diagnosis.note})" if diagnosis.note else ""
        lines.append(
            f"Confirmed diagnosis: {diagnosis.name}, by {diagnosis.get_dx_type_display().lower()} on "
            f"{diagnosis.confirmed_on:%Y-%m-%d}{note}."
        )
    else:
        lines.append("Confirmed diagnosis: none recorded yet.")
    if review is not None:
        lines.append(
            f"Clinician's review: {day(review.reviewed_at)} by {review.reviewer_name} (photo of "
            f"{day(review.image.captured_at)}); plan: {review.get_disposition_display().lower()}."
        )
        if review.note_to_patient:
            lines.append(f"Note to the patient: {review.note_to_patient}")
    else:
        lines.append("Clinician's review: none yet.")
    return [paragraph("Clinical summary", heading_style), *(paragraph(line) for line in lines)]


def widest_word(text: str, font: str) -> float:
    # Only a plain space breaks a line: a figure stays with its unit (lesions.summary.Measure).
    return max((stringWidth(word, font, CELL_FONT_SIZE) for word in text.split(" ")), default=0)


def fitted_table(rows: list[list[str]], *, width: float, stretch: tuple[int, ...], style, header_style) -> Table:
    """A table whose every column is at least as wide as its longest word, so that cells wrap between words only
    (widths set by hand split a header into 'Malignanc y'); the `stretch` columns share the rest of `width`."""
    header, *body = rows
    widths = [
        max([widest_word(title, header_style.fontName), *(widest_word(row[index], style.fontName) for row in body)])
        + CELL_PADDING
        for index, title in enumerate(header)
    ]
    spare = max(width - sum(widths), 0)
    widths = [column + (spare / len(stretch) if index in stretch else 0) for index, column in enumerate(widths)]
    cells = [[Paragraph(escape(title), header_style) for title in header]]
    cells += [[Paragraph(escape(value), style) for value in row] for row in body]
    table = Table(cells, colWidths=widths, repeatRows=1)
    table.setStyle(TABLE_STYLE)
    return table


def results_rows(summary: LesionSummary) -> list[list[str]]:
    rows = [["Photo taken", "By", "Most likely", "Second", "Malignancy score", "Model"]]
    for row in summary.photos:
        classes = [f"{score.name} {probability(score.probability)}" for score in row.top]
        classes += ["-"] * (2 - len(classes))
        version = row.prediction.model_version if row.prediction else None
        rows.append(
            [
                day(row.taken_at),
                "patient" if row.image.taken_by_patient else "clinic",
                *classes,
                probability(row.prediction.malignancy if row.prediction else None),
                # Name and version wrap between them: a long version alone no longer runs out of its column.
                f"{version.name} {version.version}" if version else row.status_text,
            ]
        )
    return rows


def size_table(summary: LesionSummary, paragraph, heading_style) -> list:
    if not summary.sizes:
        return []
    rows = [["Photo taken", "Area relative to the first photo", "Size"]]
    rows += [[day(row.taken_at), row.relative_text, row.mm_text] for row in summary.sizes]
    table = Table(rows, colWidths=[2.5 * cm, 5.5 * cm, 8 * cm], repeatRows=1)
    table.setStyle(TABLE_STYLE)
    note = paragraph(summary.size_note, ParagraphStyle("note", fontSize=8, leading=10))
    return [paragraph("Lesion size over time", heading_style), table, note, Spacer(1, 0.4 * cm)]


def change_flag(summary: LesionSummary, paragraph) -> list[Paragraph]:
    if summary.flag is None:
        return []
    return [paragraph(summary.flag.sentence)]


def change_rows(summary: LesionSummary) -> list[list[str]]:
    rows = [["Measurement", "Before", "After", "Change"]]
    rows += [[change.label, change.before_text, change.after_text, change.figure] for change in summary.changes]
    return rows


def malignancy_chart(summary: LesionSummary) -> list:
    """The malignancy score against the date taken, once there are two results to draw a line between."""
    points = [(row.taken_at.timestamp() / 86400, row.prediction.malignancy) for row in summary.photos if row.prediction]
    if len(points) < 2:
        return []
    drawing = Drawing(16 * cm, 5.5 * cm)
    plot = LinePlot()
    plot.x, plot.y, plot.width, plot.height = 1.2 * cm, 1 * cm, 14 * cm, 4 * cm
    plot.data = [points]
    plot.lines[0].strokeColor = colors.HexColor("#7d1410")
    plot.lines[0].strokeWidth = 1.5
    plot.joinedLines = True
    plot.yValueAxis.valueMin, plot.yValueAxis.valueMax, plot.yValueAxis.valueStep = 0, 1, 0.25
    plot.yValueAxis.labelTextFormat = lambda value: f"{value:.0%}"
    first, last = points[0][0], points[-1][0]
    plot.xValueAxis.valueMin, plot.xValueAxis.valueMax = first, max(last, first + 1)
    plot.xValueAxis.valueSteps = [first, last]
    plot.xValueAxis.labelTextFormat = lambda value: day(datetime.fromtimestamp(value * 86400, UTC))
    drawing.add(plot)
    drawing.add(String(1.2 * cm, 5.2 * cm, "Malignancy score by date taken", fontSize=9))
    return [drawing, Spacer(1, 0.4 * cm)]


def photo_grid(summary: LesionSummary, style, heading_style) -> list:
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
    first_row, *other_rows = (Table([row], colWidths=[PHOTO_WIDTH + 0.6 * cm] * PHOTOS_PER_ROW) for row in grid)
    # The heading goes with the first row of photos, never alone at the foot of a page.
    return [Spacer(1, 0.4 * cm), KeepTogether([Paragraph("Photos", heading_style), first_row]), *other_rows]


def report_filename(summary: LesionSummary) -> str:
    label = re.sub(r"[^A-Za-z0-9]+", "-", str(summary.lesion)).strip("-").lower() or "lesion"
    return f"skintrack-{label}-{timezone.localdate():%Y-%m-%d}.pdf"


def report_response(summary: LesionSummary) -> HttpResponse:
    response = HttpResponse(lesion_report_pdf(summary), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{report_filename(summary)}"'
    response["Cache-Control"] = "no-store, private"
    return response
