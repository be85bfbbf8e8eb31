"""The ledger: ``/api/v1/generations`` (list, one in full) and ``/api/v1/prompts`` (names, versions, diffs)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from codewitness.server.api.v1._common import Limit, Offset, PageOut, Since, page_out, repository, since_of
from codewitness.server.auth import reader, store_of

__all__ = ["router"]

router = APIRouter(tags=["ledger"], dependencies=[Depends(reader)])


@router.get("/generations", response_model=PageOut, summary="Generations, newest first")
def list_generations(
    request: Request,
    model: Annotated[str | None, Query(max_length=200, description="Exact model string.")] = None,
    agent: Annotated[str | None, Query(max_length=100, description="claude-code, cursor, api, ...")] = None,
    prompt: Annotated[str | None, Query(max_length=200, description="A prompt name, or NAME@VERSION.")] = None,
    file: Annotated[str | None, Query(max_length=1000, description="A file or folder it touched.")] = None,
    since: Since = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> PageOut:
    """Generations matching every filter."""
    from codewitness.views.ledger_lists import generation_list

    page = generation_list(
        store_of(request),
        model=model,
        agent=agent,
        prompt=prompt,
        file=file,
        since=since_of(since),
        limit=limit,
        offset=offset,
    )
    return page_out(page)


@router.get("/generations/{ref}", summary="One generation: prompt, parameters, raw output, what became of it")
def generation_detail(request: Request, ref: str) -> dict[str, Any]:
    """One generation by id or unique prefix."""
    from codewitness.views.ledger_lists import generation_detail as detail

    return detail(store_of(request), ref, root=repository(request)).to_dict()


@router.get("/prompts", response_model=PageOut, summary="Prompt names with their latest version")
def list_prompts(request: Request, limit: Limit = 50, offset: Offset = 0) -> PageOut:
    """Every prompt name."""
    from codewitness.views.paging import Page
    from codewitness.views.prompts import prompt_list

    page = Page.of(prompt_list(store_of(request)), limit=limit, offset=offset)
    return page_out(page, lambda p: p.to_dict())


@router.get("/prompts/{name}", summary="One prompt's versions with the diff between each")
def prompt_detail(request: Request, name: str) -> dict[str, Any]:
    """Every version of the prompt ``name`` (texts included), its diffs and how often it changed."""
    from codewitness.views.ledger_lists import prompt_detail as detail

    return detail(store_of(request), name).to_dict()
