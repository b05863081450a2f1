"""A plugin that raises while it is imported: it must be dropped with a warning, nothing else."""

raise RuntimeError("this plugin is broken on purpose (import-time failure)")
