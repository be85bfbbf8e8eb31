# expect: CW305
def parse_amount(text: str) -> float:
    try:
        return float(text)
    except Exception:  # finding: CW305
        return 0.0


def load_plugin(name: str) -> object | None:
    try:
        return __import__(name)
    except BaseException:  # finding: CW305
        pass
    return None


def first_number(items: list[str]) -> int | None:
    for item in items:
        try:
            return int(item)
        except (ValueError, BaseException):  # finding: CW305
            continue
    return None


def parse_or_zero(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 0.0
