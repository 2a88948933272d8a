"""Label vocabularies shared by training, evaluation and serving."""

CLASSES = ("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc")
DX_TYPES = ("histo", "follow_up", "consensus", "confocal")
MALIGNANT_CLASSES = ("mel", "bcc", "akiec")

CLASS_NAMES = {
    "akiec": "actinic keratosis / intraepithelial carcinoma",
    "bcc": "basal cell carcinoma",
    "bkl": "benign keratosis-like lesion",
    "df": "dermatofibroma",
    "mel": "melanoma",
    "nv": "melanocytic nevus",
    "vasc": "vascular lesion",
}
