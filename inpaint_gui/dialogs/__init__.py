"""Dialogs: settings, batch processing, fine-tuning."""
