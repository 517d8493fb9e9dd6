"""Image processing on CT volumes with SimpleITK: registration, propagation, measurement.

`registration` registers each follow-up scan to the baseline and maps baseline lesion end
points to the follow-up; `measure` segments a lesion from one click and returns its RECIST
long and short axes; `propagation` puts the two together for every baseline lesion. Pure
image processing: imports the model and the CT loader's `Volume`, never napari, cohort or
commands. SimpleITK is imported on first use (`require_sitk`), so the rest of the package
works without it.
"""
