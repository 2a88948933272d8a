"""What the platform runs on every photo: preprocessing, the classifier and the photo gate."""
