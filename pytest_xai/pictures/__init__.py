"""Pictures: colour maps, overlays and PNGs of heatmaps, and what a person is shown of them."""
