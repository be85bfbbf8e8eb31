# expect: none
from fastapi import Depends, FastAPI, HTTPException


def get_current_user(token: str = "") -> str:
    if not token:
        raise HTTPException(status_code=401)
    return "alice"


app = FastAPI()


@app.get("/health")
def health() -> dict:
    return {"ok": True}


@app.post("/items")
def create_item(name: str, user: str = Depends(get_current_user)) -> dict:
    return {"name": name, "owner": user}
