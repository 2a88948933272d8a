"""Image analysis: the photo gate, segmentation, registration of two photos of one lesion, change measurement."""
