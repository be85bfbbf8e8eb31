# expect: CW201 CW202 CW203
# An agent "remembered" convenience functions that these libraries never had.
import json
import os.pathx
from os import joinpath

import requests


def load(url: str) -> dict:
    data = requests.fetch_json(url, timeout=5)
    return json.parse(data) | {"dir": joinpath("a", "b")}
