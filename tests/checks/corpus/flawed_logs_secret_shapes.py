# expect: CW304
# Secrets reach a log line in every way a message is built: format(), %, +, a tuple of arguments,
# a keyword argument, an attribute; and under every spelling of a secret's name.
import logging

log = logging.getLogger(__name__)


class Account:
    apiKey = "from-the-environment"  # noqa: N815 - the camelCase an agent copies from a JSON payload


def sign_in(account: Account, userPassword: str, client_secret: str, card_number: str, cvv: str) -> None:  # noqa: N803
    log.info("signing in with {}".format(userPassword))  # finding: CW304
    log.info("key: " + account.apiKey)  # finding: CW304
    log.info("%s", (account, client_secret))  # finding: CW304
    log.info("card", extra={"card": card_number})
    log.info("card %s", card=card_number)  # finding: CW304
    log.debug("check: {code}".format(code=cvv))  # finding: CW304
