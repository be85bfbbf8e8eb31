# expect: CW201 CW202 CW203
# An agent "remembered" convenience functions that these libraries never had.
import json
import os.pathx  # finding: CW203
from os import joinpath  # finding: CW202

import requests


def load(url: str) -> dict:
    data = requests.fetch_json(url, timeout=5)  # finding: CW201
    return json.parse(data) | {"dir": joinpath("a", "b")}  # finding: CW201
