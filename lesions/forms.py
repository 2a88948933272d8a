import math

from django import forms

from accounts.models import Clinic
from lesions import access
from lesions.body_map import site_of_new_lesion
from lesions.models import (
    MAX_CALIBRATION_MM,
    MIN_CALIBRATION_PIXELS,
    MIN_MM_PER_PIXEL,
    ConfirmedDiagnosis,
    Lesion,
    LesionImage,
    LesionStatusChange,
    Patient,
    PhotoReview,
)
from lesions.validators import validate_plausible_moment

# An <input type=date> takes and shows only ISO dates: a localised one would be dropped, blanking the field.
ISO_DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class PatientDetailsForm(forms.ModelForm):
    """A patient's details, as the clinic records them (the API's PatientSerializer checks the same)."""

    class Meta:
        model = Patient
        fields = list(Patient.RECORD_FIELDS)
        widgets = {"date_of_birth": ISO_DATE_INPUT}

    def clean(self):
        cleaned = super().clean()
        clinic = cleaned.get("clinic") or getattr(self.instance, "clinic", None)
        number = cleaned.get("medical_record_number")
        if clinic and number and Patient.record_number_taken(clinic=clinic, number=number, excluding=self.instance):
            self.add_error("medical_record_number", Patient.RECORD_NUMBER_TAKEN)
        return cleaned


class PatientForm(PatientDetailsForm):
    """A new patient of one of the user's clinics; the clinic is asked for only when the user has several."""

    clinic = forms.ModelChoiceField(queryset=Clinic.objects.none(), required=False)

    class Meta(PatientDetailsForm.Meta):
        fields = ["clinic", *Patient.RECORD_FIELDS]

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        clinics = Clinic.objects.filter(pk__in=access.clinic_ids_of(user))
        if clinics.count() > 1:
            self.fields["clinic"].queryset = clinics
            self.fields["clinic"].required = True
        else:
            del self.fields["clinic"]
            self.instance.clinic = clinics.first()

    def save(self, commit=True):
        if "clinic" in self.cleaned_data and self.cleaned_data["clinic"]:
            self.instance.clinic = self.cleaned_data["clinic"]
        return super().save(commit=commit)


class LesionForm(forms.ModelForm):
    """A lesion placed on the body diagram; the diagram's JS fills the two hidden coordinates."""

    follow_up_interval = forms.IntegerField(
        label="Photograph again after",
        min_value=1,
        required=False,
        help_text="How long after the latest photo the next one is due; empty: no plan.",
    )

    class Meta:
        model = Lesion
        fields = ["body_site", "label", "follow_up_interval", "follow_up_unit", "diagram_x", "diagram_y"]
        labels = {"follow_up_unit": "Unit"}
        widgets = {"diagram_x": forms.HiddenInput(), "diagram_y": forms.HiddenInput()}

    def clean(self):
        cleaned = super().clean()
        for name in ("diagram_x", "diagram_y"):
            value = cleaned.get(name)
            if value is not None and not 0 <= value <= 1:
                self.add_error(None, "The position must be on the body diagram; click the diagram again.")
                return cleaned
        if self.instance.pk is None and "body_site" in cleaned:
            cleaned["body_site"] = site_of_new_lesion(
                cleaned["body_site"], cleaned.get("diagram_x"), cleaned.get("diagram_y")
            )
        return cleaned


class LesionDetailsForm(LesionForm):
    """A recorded lesion's name, site, follow-up plan and place on the diagram; moving the pin sets the body site
    to where it lands (lesions.services.update_lesion)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["body_site"].help_text = "Moving the pin on the diagram sets the site to where it lands."


class ConfirmedDiagnosisForm(forms.ModelForm):
    class Meta:
        model = ConfirmedDiagnosis
        fields = ["dx", "dx_other", "dx_type", "confirmed_on", "note"]
        widgets = {"confirmed_on": ISO_DATE_INPUT, "note": forms.Textarea(attrs={"rows": 2})}
        help_texts = {"note": "e.g. the pathology report's number or wording."}


class LesionStatusForm(forms.ModelForm):
    class Meta:
        model = LesionStatusChange
        fields = ["status", "note"]
        labels = {"status": "New status"}
        widgets = {"note": forms.Textarea(attrs={"rows": 2})}
        help_texts = {"status": "Excised and closed lesions leave the attention list and get no photo reminders."}


class PhotoReviewForm(forms.ModelForm):
    class Meta:
        model = PhotoReview
        fields = ["disposition", "note_to_patient"]
        labels = {"disposition": "Plan", "note_to_patient": "Note to the patient"}
        widgets = {"note_to_patient": forms.Textarea(attrs={"rows": 2})}
        help_texts = {"note_to_patient": "Shown to the patient with the result: plain words, no abbreviations."}

    @classmethod
    def for_image(cls, image: LesionImage, data=None) -> "PhotoReviewForm":
        # A page shows one form per photo: the prefix keeps their fields' ids apart.
        return cls(data, prefix=f"review-{image.pk}")


def photo_date_field(*, required: bool, help_text: str) -> forms.DateTimeField:
    """When a photo was taken, within the bounds every photo's date keeps (upload and correction alike)."""
    return forms.DateTimeField(
        label="Date taken",
        required=required,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"],
        validators=[validate_plausible_moment],
        help_text=help_text,
    )


class PhotoForm(forms.Form):
    image = forms.FileField(
        label="Photo",
        widget=forms.ClearableFileInput(attrs={"accept": "image/*", "capture": "environment"}),
        help_text="A JPEG, PNG, WebP or HEIC photo from a dermatoscope or a phone camera.",
    )
    captured_at = photo_date_field(
        required=False, help_text="Read from the photo when it says; otherwise the time of upload."
    )
    modality = forms.ChoiceField(choices=LesionImage.Modality.choices, initial=LesionImage.Modality.DERMOSCOPIC)


class ComparisonForm(forms.Form):
    """Which two photos of a lesion to compare; the choices are the lesion's own photos."""

    before = forms.TypedChoiceField(coerce=int, label="Earlier photo")
    after = forms.TypedChoiceField(coerce=int, label="Later photo")

    def __init__(self, *args, images, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [
            (image.pk, f"{image.captured_at:%Y-%m-%d %H:%M} · {image.get_modality_display()}") for image in images
        ]
        self.fields["before"].choices = choices
        self.fields["after"].choices = choices


class PhotoCorrectionForm(forms.Form):
    """Move a photo to another lesion of the same patient, or correct the date it was taken."""

    lesion = forms.ModelChoiceField(queryset=Lesion.objects.none(), empty_label=None, label="Lesion")
    captured_at = photo_date_field(required=True, help_text="Not in the future.")

    def __init__(self, *args, image: LesionImage, **kwargs):
        initial = {"lesion": image.lesion_id, "captured_at": image.captured_at}
        super().__init__(*args, initial=initial, **kwargs)
        self.fields["lesion"].queryset = Lesion.objects.filter(patient_id=image.lesion.patient_id)


class PhotoScaleForm(forms.Form):
    """A line drawn over a ruler or a known length on the photo (its ends in the stored photo's pixels, set by
    static/js/calibrate.js) and its length in millimetres: the photo's scale."""

    start_x = forms.FloatField(widget=forms.HiddenInput)
    start_y = forms.FloatField(widget=forms.HiddenInput)
    end_x = forms.FloatField(widget=forms.HiddenInput)
    end_y = forms.FloatField(widget=forms.HiddenInput)
    length_mm = forms.FloatField(
        label="Length of the line (mm)",
        help_text=f"Click the two ends of a ruler's stretch or a known length on the photo, then type its length "
        f"(more than 0 and less than {MAX_CALIBRATION_MM} mm).",
        widget=forms.NumberInput(attrs={"step": "0.1", "min": "0.1", "max": str(MAX_CALIBRATION_MM)}),
    )

    def __init__(self, *args, image: LesionImage, **kwargs):
        super().__init__(*args, **kwargs)
        self.image = image

    def clean_length_mm(self) -> float:
        length = self.cleaned_data["length_mm"]
        if not 0 < length < MAX_CALIBRATION_MM:
            raise forms.ValidationError(f"The length must be more than 0 and less than {MAX_CALIBRATION_MM} mm.")
        return length

    def clean(self):
        cleaned = super().clean()
        ends = [cleaned.get(name) for name in ("start_x", "start_y", "end_x", "end_y")]
        if any(value is None for value in ends):
            raise forms.ValidationError("Draw the line first: click its two ends on the photo.")
        start_x, start_y, end_x, end_y = ends
        width, height = self.image.width, self.image.height
        if not all(0 <= x <= width and 0 <= y <= height for x, y in ((start_x, start_y), (end_x, end_y))):
            raise forms.ValidationError("Both ends of the line must lie on the photo.")
        pixels = math.hypot(end_x - start_x, end_y - start_y)
        if pixels <= MIN_CALIBRATION_PIXELS:
            raise forms.ValidationError(
                f"The line is {pixels:.0f} pixels long: draw it over more than {MIN_CALIBRATION_PIXELS} pixels of "
                "the photo (a longer stretch of the ruler measures the scale better)."
            )
        if "length_mm" in cleaned:
            cleaned["mm_per_pixel"] = cleaned["length_mm"] / pixels
            if cleaned["mm_per_pixel"] < MIN_MM_PER_PIXEL:
                raise forms.ValidationError(
                    f"{cleaned['length_mm']:g} mm over {pixels:.0f} pixels is finer than any photo's scale: check "
                    "the length you typed."
                )
        return cleaned


class ClinicDermatoscopeForm(forms.ModelForm):
    """The clinic's dermatoscope field of view, which gives its dermoscopic photos a size in millimetres."""

    class Meta:
        model = Clinic
        fields = ["dermatoscope_field_of_view_mm"]
        labels = {"dermatoscope_field_of_view_mm": "Dermatoscope field of view (mm)"}
        error_messages = {
            "dermatoscope_field_of_view_mm": {
                "min_value": "A dermatoscope shows at least 1 mm of skin across a photo: type its field of view.",
                "max_value": "A dermatoscope shows at most 100 mm of skin across a photo: type its field of view.",
            }
        }
