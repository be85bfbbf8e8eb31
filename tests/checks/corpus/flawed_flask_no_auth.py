# expect: CW303 CW304
# A state-changing endpoint anyone can call, and a debug print of the whole request.
from flask import Flask, jsonify, request

app = Flask(__name__)
ORDERS: dict[int, dict] = {}


@app.route("/orders/<int:order_id>", methods=["DELETE"])
def delete_order(order_id: int):  # finding: CW303
    print(request)  # finding: CW304
    ORDERS.pop(order_id, None)
    return jsonify(ok=True)
