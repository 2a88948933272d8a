from django import forms


class InvitationForm(forms.Form):
    email = forms.EmailField(label="The patient's email address")


class AiTrainingPreferenceForm(forms.Form):
    ai_training_opt_out = forms.BooleanField(
        required=False,
        label="Do not use my photos and diagnoses to train SkinTrack's models",
        help_text="Your care is the same either way; this only decides whether your data helps improve the software.",
    )
