# expect: none
from flask import Flask, abort, g

app = Flask(__name__)


def login_required(view):
    def wrapper(*args, **kwargs):
        if getattr(g, "user", None) is None:
            abort(401)
        return view(*args, **kwargs)

    return wrapper


@app.route("/notes", methods=["POST"])
@login_required
def add_note():
    return {"ok": True}
