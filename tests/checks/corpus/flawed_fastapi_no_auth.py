# expect: CW303
from fastapi import FastAPI

app = FastAPI()
PRICES: dict[str, float] = {}


@app.post("/admin/prices/{sku}")
async def set_price(sku: str, price: float) -> dict:  # finding: CW303
    PRICES[sku] = price
    return {"sku": sku, "price": price}
