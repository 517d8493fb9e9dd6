"""napari-recist: longitudinal tumour response on CT (RECIST 1.1, iRECIST, dissociated response)."""

__version__ = "0.1.0"
