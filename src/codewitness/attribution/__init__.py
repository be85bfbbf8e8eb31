"""Attribution: who wrote which line and function, from notes, imported records and commit marks."""
