"""The Device page (what a technician or the bureau asks first: which unit, which model, is it
healthy, is the bureau getting its results) and ``/metrics`` for Prometheus."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify, render_template

from . import context
from .metrics import CONTENT_TYPE, render_metrics

bp = Blueprint("device", __name__)


@bp.get("/device")
def index():
    ctx = context()
    return render_template("device.html", info=ctx.port.device_info(), snap=ctx.port.snapshot(),
                           live={"clients": ctx.live.clients, "max": ctx.http.sse_max_clients})


@bp.get("/api/device")
def api_index():
    ctx = context()
    return jsonify(device=ctx.port.device_info(), state=ctx.port.snapshot())


@bp.get("/metrics")
def metrics():
    ctx = context()
    text = render_metrics(ctx.port, ctx.tally, live=ctx.live, limiter=ctx.limiter)
    return Response(text, content_type=CONTENT_TYPE)
