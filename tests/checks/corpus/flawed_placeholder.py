# expect: CW306
from dataclasses import dataclass


@dataclass
class Settings:
    endpoint: str = "https://api.example.com"
    credential: str = "your-api-key-here"  # finding: CW306


DEFAULTS = {"db": "postgres://app@localhost/app", "secret": "changeme"}  # finding: CW306
