"""The learning loop's console pages (bot/feedback/), for supervisors and admins:

- 「待补充的问题」 /console/gaps: not-covered and 👎 questions, grouped, with counts; dismiss a group;
- 整理的回答 /console/curated: write one for a group (in effect at once), edit, retire, restore, hit counts;
- 「命中测试」 /console/hit-test: what retrieval and the bot would do with a typed question (nothing stored).

Every POST carries the session's CSRF token; every change is audited with it (bot/feedback/curated.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from bot.console.audit import audit
from bot.feedback.curated import (CuratedError, CuratedForm, all_curated, create_curated, dismiss_questions,
                                  get_curated, set_status, update_curated)
from bot.feedback.gaps import Gap, open_gaps, serving_embedder
from bot.feedback.hit_test import hit_test
from bot.prompts import prompt_yaml
from bot.storage.db import session_scope
from handlers.console_admin import _allowed
from handlers.console_auth import Ctx, check_csrf, current, render, templates
from handlers.console_guard import CaseId, ConsoleRoute, parse_id

router = APIRouter(route_class=ConsoleRoute)
templates.env.globals["feedback_labels"] = lambda: prompt_yaml("console_feedback.yaml")  # the menu in base.html
MAX_IDS = 1000  # question records one form or link may name
MAX_QUERY_CHARS = 500


def _texts() -> dict:
    return prompt_yaml("console_feedback.yaml")


def _ids(values: list[str]) -> list[int]:
    """Record ids from comma-separated form or query values; anything that is not an id is ignored."""
    found = (parse_id(part) for value in values for part in value.split(",")[:MAX_IDS])
    return list(dict.fromkeys(i for i in found if i is not None))[:MAX_IDS]


def _page(request: Request, ctx: Ctx, name: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    return render(request, f"console/{name}.html", ctx, status_code, F=_texts(),
                  done=request.query_params.get("done", ""), **values)


async def _guard(request: Request, ctx: Ctx, form: FormData | None = None) -> HTMLResponse | None:
    """The CSRF check for a POST (403 raised), then the role: None, or the audited refusal page."""
    if form is not None:
        csrf = form.get("csrf", "")
        await check_csrf(request, ctx, csrf if isinstance(csrf, str) else "")
    return await _allowed(request, ctx, "supervisor")


def _field(form: FormData, name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


def _curated_form(form: FormData) -> CuratedForm:
    return CuratedForm(question=_field(form, "question"), answer=_field(form, "answer"),
                       variants=_field(form, "variants"), source_title=_field(form, "source_title"),
                       source_year=_field(form, "source_year"))


def _refresh(request: Request) -> None:
    """This worker answers with the change at once; other workers within curated_refresh_seconds."""
    request.app.state.conversation.curated.refresh(force=True)


# --- 待补充的问题 ----------------------------------------------------------------------------------------------

@router.get("/console/gaps", response_class=HTMLResponse)
async def gaps_page(request: Request, ctx: Ctx = Depends(current)) -> HTMLResponse:
    if denied := await _guard(request, ctx):
        return denied

    def load() -> list[Gap]:
        with session_scope(ctx.settings) as session:
            audit(session, ctx.actor.account, "view_gaps", ip=ctx.actor.ip)
        return open_gaps(ctx.settings, serving_embedder(ctx.settings))

    return _page(request, ctx, "gaps", gaps=await run_in_threadpool(load))


@router.post("/console/gaps/dismiss")
async def gaps_dismiss(request: Request, ctx: Ctx = Depends(current)) -> Response:
    form = await request.form()
    if denied := await _guard(request, ctx, form):
        return denied
    ids = _ids([v for v in form.getlist("ids") if isinstance(v, str)])

    def save() -> None:
        with session_scope(ctx.settings) as session:
            dismiss_questions(session, ctx.actor.account, ids, ctx.actor.ip)

    await run_in_threadpool(save)
    return RedirectResponse("/console/gaps?done=dismissed", status_code=303)


# --- 整理的回答 --------------------------------------------------------------------------------------------------

@router.get("/console/curated", response_class=HTMLResponse)
async def curated_list(request: Request, ctx: Ctx = Depends(current)) -> HTMLResponse:
    if denied := await _guard(request, ctx):
        return denied

    def load() -> list:
        with session_scope(ctx.settings) as session:
            return all_curated(session)

    return _page(request, ctx, "curated", rows=await run_in_threadpool(load),
                 threshold=ctx.settings.curated_min_similarity)


def _covered(ctx: Ctx, ids: list[int]) -> list[Gap]:
    return open_gaps(ctx.settings, None, ids) if ids else []


def _form_page(request: Request, ctx: Ctx, status_code: int = 200, *, action: str, values: dict[str, str],
               covers: list[Gap] | None = None, checked: set[int] | None = None, error: str = "") -> HTMLResponse:
    phrasings = [p for gap in covers or [] for p in gap.phrasings]
    return _page(request, ctx, "curated_form", status_code, action=action, values=values, phrasings=phrasings,
                 checked=checked, error=error, limit=ctx.settings.reply_max_chars)


@router.get("/console/curated/new", response_class=HTMLResponse)
async def curated_new(request: Request, ctx: Ctx = Depends(current)) -> HTMLResponse:
    """The form for a group of open questions (`ids` from 「待补充的问题」), or blank."""
    if denied := await _guard(request, ctx):
        return denied
    covers = await run_in_threadpool(_covered, ctx, _ids(request.query_params.getlist("ids")))
    phrasings = sorted((p for gap in covers for p in gap.phrasings), key=lambda p: -p.count)
    values = {"question": phrasings[0].text if phrasings else "",
              "variants": "\n".join(p.text for p in phrasings[1:])}
    return _form_page(request, ctx, action="/console/curated/new", values=values, covers=covers)


def _attempt(request: Request, ctx: Ctx, save: Callable[[], int], form: FormData, action: str,
             ids: list[int] | None = None) -> Response:
    try:
        curated_id = save()
    except CuratedError as exc:
        values = {name: _field(form, name) for name in ("question", "variants", "answer", "source_title", "source_year")}
        covers = _covered(ctx, ids or [])
        return _form_page(request, ctx, 409, action=action, values=values, covers=covers, checked=set(ids or []),
                          error=str(exc))
    _refresh(request)
    return RedirectResponse(f"/console/curated?done=saved#c{curated_id}", status_code=303)


@router.post("/console/curated/new")
async def curated_create(request: Request, ctx: Ctx = Depends(current)) -> Response:
    form = await request.form()
    if denied := await _guard(request, ctx, form):
        return denied
    ids = _ids([v for v in form.getlist("covers") if isinstance(v, str)])

    def save() -> int:
        with session_scope(ctx.settings) as session:
            row = create_curated(session, ctx.actor.account, _curated_form(form), ids, ctx.settings.reply_max_chars,
                                 ctx.actor.ip)
            return row.id

    return await run_in_threadpool(_attempt, request, ctx, save, form, "/console/curated/new", ids)


@router.get("/console/curated/{curated_id}", response_class=HTMLResponse)
async def curated_edit_page(request: Request, curated_id: CaseId, ctx: Ctx = Depends(current)) -> HTMLResponse:
    if denied := await _guard(request, ctx):
        return denied

    def load() -> dict[str, str] | None:
        with session_scope(ctx.settings) as session:
            try:
                row = get_curated(session, curated_id)
            except CuratedError:
                return None
            return {"question": row.question, "variants": "\n".join(row.variants or []), "answer": row.answer,
                    "source_title": row.source_title, "source_year": str(row.source_year or "")}

    values = await run_in_threadpool(load)
    if values is None:
        return _page(request, ctx, "curated", 404, rows=[], threshold=ctx.settings.curated_min_similarity,
                     error=_texts()["curated"]["not_found"])
    return _form_page(request, ctx, action=f"/console/curated/{curated_id}", values=values)


@router.post("/console/curated/{curated_id}")
async def curated_edit(request: Request, curated_id: CaseId, ctx: Ctx = Depends(current)) -> Response:
    form = await request.form()
    if denied := await _guard(request, ctx, form):
        return denied

    def save() -> int:
        with session_scope(ctx.settings) as session:
            return update_curated(session, ctx.actor.account, curated_id, _curated_form(form),
                                  ctx.settings.reply_max_chars, ctx.actor.ip).id

    return await run_in_threadpool(_attempt, request, ctx, save, form, f"/console/curated/{curated_id}")


@router.post("/console/curated/{curated_id}/{action}")
async def curated_status(request: Request, curated_id: CaseId, action: str, ctx: Ctx = Depends(current)) -> Response:
    form = await request.form()
    if denied := await _guard(request, ctx, form):
        return denied
    status = {"retire": "retired", "restore": "active"}.get(action)
    if status is None:
        return Response("unknown action", status_code=404)

    def save() -> bool:
        with session_scope(ctx.settings) as session:
            try:
                set_status(session, ctx.actor.account, curated_id, status, ctx.actor.ip)
            except CuratedError:
                return False
            return True

    if not await run_in_threadpool(save):
        return Response("not found", status_code=404)
    await run_in_threadpool(_refresh, request)
    return RedirectResponse(f"/console/curated?done={status}#c{curated_id}", status_code=303)


# --- 命中测试 ------------------------------------------------------------------------------------------------------

@router.get("/console/hit-test", response_class=HTMLResponse)
async def hit_test_page(request: Request, ctx: Ctx = Depends(current)) -> HTMLResponse:
    if denied := await _guard(request, ctx):
        return denied
    return _page(request, ctx, "hit_test", question="", result=None)


@router.post("/console/hit-test", response_class=HTMLResponse)
async def hit_test_run(request: Request, ctx: Ctx = Depends(current)) -> HTMLResponse:
    """POST, so the typed question stays out of URLs and access logs; audited by its length only."""
    form = await request.form()
    if denied := await _guard(request, ctx, form):
        return denied
    question = _field(form, "q").strip()[:MAX_QUERY_CHARS]
    if not question:
        return _page(request, ctx, "hit_test", 422, question="", result=None, error=_texts()["errors"]["empty_query"])

    def run() -> Any:
        with session_scope(ctx.settings) as session:
            audit(session, ctx.actor.account, "hit_test", detail={"chars": len(question)}, ip=ctx.actor.ip)
        return hit_test(request.app.state.conversation, question)

    return _page(request, ctx, "hit_test", question=question, result=await run_in_threadpool(run))
