"""Runtime glue, one module per framework. Importing a module here never imports its framework."""
