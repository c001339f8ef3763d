"""Calibration toolchain: real spectra → head-specific training sets → one ONNX graph.

Modules: `datasets` (readers for the shared sources), `instrument` (what a head measures,
augmentation), `preprocess` (scikit-learn transformers), `identify` (classifier + outlier
statistics), `quantify` (PLS quantities), `export` (ONNX converters), `validate` (grouped
cross-validation and metrics), `report` (HTML validation report), `train` (the whole run),
`adapt` (unit adaptation), `simulated` (spectra of degradable polymers without real data).
"""
