# expect: CW201 CW305
# An invented API hidden behind a broad try/except is still an invented API.
import json


def parse_payload(text: str) -> dict | None:
    try:
        return json.parse(text)  # finding: CW201
    except Exception:  # finding: CW305
        return None
