# expect: CW305
def parse_amount(text: str) -> float:
    try:
        return float(text)
    except Exception:
        return 0.0
