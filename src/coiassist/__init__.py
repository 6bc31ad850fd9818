"""coiassist: answers about COI's articles in Danish and Norwegian, with checked citations.

Importing the package switches off every outbound default of the libraries it uses (model hub,
telemetry, analytics) unless the user has set those variables: offline and private by default.
"""

import os

for _name, _value in {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "ANONYMIZED_TELEMETRY": "False",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "DO_NOT_TRACK": "1",
}.items():
    os.environ.setdefault(_name, _value)

__version__ = "0.1.0"
