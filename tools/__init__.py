"""The ``arrayrt`` command: one module per verb (``devices``, ``info``, ``infer``, ``benchmark``,
``demo``). Tools use only the public runtime API."""
