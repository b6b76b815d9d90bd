# Home Assistant 2026.9+ aliases `voluptuous` to Probatio at start-up
# (probatio.compat.install_as_voluptuous): type-check the integration's
# `import voluptuous as vol` against what it really gets there.
from probatio import *  # noqa: F403  # the whole public API, as the alias gives it
