"""Interactive segmentation models behind one interface (see :mod:`.base`)."""
