"""One folder per framework: `INFO` in its `__init__`, `runtime`, its model base class and
layout walker. Importing a folder's `__init__` never imports its framework."""
