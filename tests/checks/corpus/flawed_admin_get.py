# expect: CW303
# Reading an admin listing is as sensitive as changing it: a handler under /admin needs a check
# whatever its method.
from fastapi import FastAPI
from flask import Flask

api = FastAPI()
web = Flask(__name__)
USERS: list[str] = []


@api.get("/admin/users")
async def list_users() -> list[str]:  # finding: CW303
    return USERS


@web.route("/Admin/audit-log")
def audit_log() -> str:  # finding: CW303
    return "\n".join(USERS)


@api.get("/users/count")
async def count_users() -> int:
    return len(USERS)
