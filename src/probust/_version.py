"""The package version, in a module of its own so that any sub-package can import it without importing
``probust`` itself (whose ``__init__`` imports the sub-packages: that would be a cycle)."""

__version__ = "0.1.0"
