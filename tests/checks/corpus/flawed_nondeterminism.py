# expect: CW308 CW309
import random


def pick_reviewer(reviewers: list[str]) -> str:
    return random.choice(reviewers)  # finding: CW308


def tags_line(tags: list[str]) -> str:
    return ", ".join(set(tags))  # finding: CW309


def unique(items: list[str]) -> list[str]:
    return list(set(items))  # finding: CW309
