# expect: CW301 CW307
import urllib.request

import requests


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url) as response:  # finding: CW301 CW307
        return response.read()


def fetch_json(url: str) -> dict:
    return requests.get(url).json()  # finding: CW307
