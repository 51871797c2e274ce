"""Notifications: the model, routing and rendering (pure), and the receivers (I/O)."""
