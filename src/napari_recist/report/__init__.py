"""The per-patient tumour board: the page, key images, lesion trajectories and figures.

Used by `napari-recist report`, the cohort page and the viewer (the Patient plots widget);
imports nothing from `cohort` (the cohort builds on it, not the other way round).
"""
