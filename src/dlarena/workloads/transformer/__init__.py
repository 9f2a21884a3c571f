"""transformer: a BERT-style post-LN encoder with a per-token vocabulary head (MLM-style)."""
