"""What the platform runs to classify a photo: preprocessing, the classifier, its labels and calibration."""
