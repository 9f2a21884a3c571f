"""gnmt: GNMT v2 sequence-to-sequence translation model (NVIDIA / MLPerf layout)."""
