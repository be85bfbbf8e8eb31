# expect: CW304
import logging

logger = logging.getLogger(__name__)


def connect(user: str, password: str, api_key: str) -> None:
    logger.info("connecting %s with %s", user, password)  # finding: CW304
    logger.debug(f"using key {api_key}")  # finding: CW304
