"""Training: the options (``options``, the one place their defaults live),
the data (``data``: seeded crops and masks of a folder of photos), the
training loop (``trainer``, with ``build``, ``step``, ``validation`` and
``run_folder``) and fetching the default training photos
(``fetch``)."""
