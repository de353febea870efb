"""The interviewer's seat endpoints (interviewer's token only; the candidate's token and the
candidate's port and socket never reach them):

- ``POST /pitfalls/api/hint {"level": N}``: give rung N of the scaffold's hint ladder (``hint_given``).
- ``POST /pitfalls/api/rubric {"criterion", "rating", "note"}``: rate a rubric criterion (``rubric_rated``).
- ``GET /pitfalls/api/diff/ID``: submission ID's diff against the previous submission.
"""

from __future__ import annotations

from tornado import web

from pitfalls.live.seat import SeatError

from .handlers import STATE_TIMEOUT, _Api, _json_body, _offload, _require, _service
from .service import RequestError


class HintHandler(_Api):
    """POST /pitfalls/api/hint {"level": N}: the candidate sees hint N from now on."""

    async def post(self) -> None:
        _require(self, "interviewer")
        body = _json_body(self)
        try:
            self._answer(await _offload(self).run(_service(self).give_hint, body.get("level"),
                                                  timeout=STATE_TIMEOUT, what="Giving a hint"))
        except (RequestError, SeatError) as exc:
            raise web.HTTPError(exc.status, log_message=str(exc)) from None


class RubricHandler(_Api):
    """POST /pitfalls/api/rubric {"criterion", "rating", "note"}: one rating, on the record."""

    async def post(self) -> None:
        _require(self, "interviewer")
        body = _json_body(self)
        try:
            self._answer(await _offload(self).run(_service(self).rate, body.get("criterion"), body.get("rating"),
                                                  body.get("note", ""), timeout=STATE_TIMEOUT,
                                                  what="Rating the rubric"))
        except (RequestError, SeatError) as exc:
            raise web.HTTPError(exc.status, log_message=str(exc)) from None


class DiffHandler(_Api):
    """GET /pitfalls/api/diff/ID: what changed since the previous submission (text lines, bounded)."""

    async def get(self, submission_id: str) -> None:
        _require(self, "interviewer")
        try:
            self._answer(await _offload(self).run(_service(self).diff, int(submission_id), timeout=STATE_TIMEOUT,
                                                  what="The diff"))
        except (RequestError, SeatError) as exc:
            raise web.HTTPError(exc.status, log_message=str(exc)) from None


ROUTES = [
    (r"/pitfalls/api/hint", HintHandler),
    (r"/pitfalls/api/rubric", RubricHandler),
    (r"/pitfalls/api/diff/([0-9]{1,12})", DiffHandler),
]
