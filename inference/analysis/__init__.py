"""Lesion analysis: segmentation, registration of two photos of one lesion, and change measurement."""
