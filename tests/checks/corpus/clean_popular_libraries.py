# expect: none
# Real, ordinary use of popular libraries installed here (requests, rich, typer, click, sqlalchemy,
# pydantic, starlette, fastapi, jsonschema, hypothesis): no API check may report any of it.
import collections.abc
import datetime as dt
import email.mime.text
import importlib.metadata
import os.path
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Annotated, Any

import click
import jsonschema
import pydantic
import requests
import requests.adapters
import rich.console
import sqlalchemy as sa
import typer
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, status
from fastapi.responses import JSONResponse
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, Field, field_validator
from requests.exceptions import HTTPError, Timeout
from rich.table import Table
from sqlalchemy import Column, Integer, MetaData, String, Table as SATable, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from starlette.middleware.cors import CORSMiddleware


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50))


class Item(BaseModel):
    name: str = Field(min_length=1)
    tags: list[str] = pydantic.Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def strip(cls, value: str) -> str:
        return value.strip()


def http() -> requests.Session:
    session = requests.Session()
    session.mount("https://", requests.adapters.HTTPAdapter(max_retries=3))
    try:
        session.get("https://example.invalid", timeout=1).raise_for_status()
    except (HTTPError, Timeout, requests.exceptions.ConnectionError, requests.RequestException):
        pass
    return session


def db() -> list[Any]:
    engine = create_engine("sqlite://")
    meta = MetaData()
    users = SATable("u", meta, Column("id", Integer, primary_key=True), Column("name", String))
    meta.create_all(engine)
    with Session(engine) as session, engine.connect() as conn:
        conn.execute(sa.insert(users).values(name="a"))
        session.execute(select(User).where(User.name == "a")).scalars().all()
        return list(conn.execute(sa.text("select 1")).fetchall()) + [sa.func.count(users.c.id)]


def console() -> None:
    out = rich.console.Console(stderr=True)
    table = Table("a", "b")
    table.add_row("1", "2")
    out.print(table)


cli = typer.Typer()


@cli.command()
def hello(name: Annotated[str, typer.Option(help="who")] = "world") -> None:
    typer.echo(f"hi {name}")
    click.echo(click.style("done", fg="green"))
    raise typer.Exit(0)


router = APIRouter()
api = FastAPI()
api.add_middleware(CORSMiddleware, allow_origins=["*"])


@router.get("/items")
def items(q: str = Query(default="")) -> JSONResponse:
    if not q:
        raise HTTPException(status_code=status.HTTP_400_BAD_REQUEST)
    return JSONResponse({"q": q})


def validate(doc: dict) -> None:
    jsonschema.validate(doc, {"type": "object"})
    jsonschema.Draft7Validator({"type": "object"}).is_valid(doc)


def misc() -> str:
    when = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
    node = ET.Element("a")
    msg = email.mime.text.MIMEText("hi")
    version = importlib.metadata.version("requests")
    ok = isinstance([], collections.abc.Sequence)
    with ThreadPoolExecutor(2) as pool:
        done = [f.result() for f in as_completed([pool.submit(len, "ab")])]
    return f"{when.isoformat()} {node.tag} {msg.get_content_type()} {version} {ok} {done} {os.path.join('a', 'b')}"


@given(st.integers())
def test_anything(n: int) -> None:
    assert n == n
