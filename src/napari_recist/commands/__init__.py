"""Command implementations behind napari_recist.cli."""
