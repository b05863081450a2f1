"""A plugin package whose module cannot be imported: initkit must warn and carry on."""

import initkit_dependency_that_is_not_installed  # noqa: F401
