"""notifier: deadline reminders for government work plans."""

__version__ = "0.1.0"
