"""The ConformerCTC family: one builder, presets, FLOPs, width/depth submodels."""
