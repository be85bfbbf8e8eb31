# expect: CW308 CW309
import random


def pick_reviewer(reviewers: list[str]) -> str:
    return random.choice(reviewers)


def tags_line(tags: list[str]) -> str:
    return ", ".join(set(tags))


def unique(items: list[str]) -> list[str]:
    return list(set(items))
