"""Optional OpenTelemetry tracing: a request followed from Slack to the provider and back.

Off unless OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_TRACES_EXPORTER is set and the `otel` extra
is installed (`pip install reviewops[otel]`); without the packages every call here is a no-op.
Spans live in several processes and moments (the slash command in a web worker, the send in
the scheduler process, the status callback later), so each carries the request's number and
workspace (`reviewops.request`, `reviewops.workspace`): a trace backend joins them on those.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.delivery.base import SendResult
    from bot.settings import Settings
    from bot.usecases.event_log import Recorded

# opentelemetry (the `otel` extra) is imported only when tracing is turned on: an idle `serve`
# without tracing does not carry its modules (issue 11's memory target).
trace: Any = None

log = logging.getLogger(__name__)

SCOPE = "reviewops"
_tracer: Any = None  # None: tracing off, spans are no-ops
_provider: Any = None


def use(provider: Any) -> None:
    """Record spans through `provider` (an SDK TracerProvider); None turns tracing off."""
    global _tracer, _provider, trace
    _provider = provider
    _tracer = provider.get_tracer(SCOPE) if provider is not None else None
    if provider is not None and trace is None:
        from opentelemetry import trace as otel_trace

        trace = otel_trace


def enabled() -> bool:
    return _tracer is not None


def configure(settings: Settings) -> bool:
    """Export spans when the settings ask for it (OTLP over HTTP, or `console` to stdout);
    say whether tracing is on."""
    if not settings.tracing_wanted or enabled():
        return enabled()
    try:
        from opentelemetry import trace as otel_trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        log.warning("tracing asked for but not installed: pip install 'reviewops[otel]'")
        return False
    exporter = _exporter(settings)
    if exporter is None:
        return False
    provider = TracerProvider(resource=Resource.create({"service.name": SCOPE}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    otel_trace.set_tracer_provider(provider)  # for instrumentation libraries installed beside us
    use(provider)
    log.info("tracing on: spans exported (%s)", settings.otel_traces_exporter or "otlp")
    return True


def _exporter(settings: Settings) -> Any:
    kind = (settings.otel_traces_exporter or "otlp").strip().lower()
    if kind == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if kind != "otlp":
        log.warning("OTEL_TRACES_EXPORTER=%s is not supported (otlp, console, none)", kind[:20])
        return None
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        log.warning("tracing needs the OTLP exporter: pip install 'reviewops[otel]'")
        return None
    base = (settings.otel_exporter_otlp_endpoint or "").strip().rstrip("/")
    # Without an endpoint the exporter uses its own (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or
    # localhost:4318); headers and timeouts come from its OTEL_* variables.
    return OTLPSpanExporter(endpoint=f"{base}/v1/traces") if base else OTLPSpanExporter()


def flush() -> None:
    """Hand the spans still buffered to the exporter (a process about to stop)."""
    if _provider is not None:
        _provider.force_flush()


@contextmanager
def span(name: str, **attributes: Any) -> Iterator[Any]:
    """Run the block in a span named `name` with `reviewops.*` attributes (None left out)."""
    if _tracer is None:
        yield None
        return
    with _tracer.start_as_current_span(name, attributes=_attrs(attributes)) as current:
        yield current


def tag(**attributes: Any) -> None:
    """Add `reviewops.*` attributes to the current span (a number known only at its end)."""
    if _tracer is None or trace is None:
        return
    trace.get_current_span().set_attributes(_attrs(attributes))


def annotate(recorded: Recorded | None, result: SendResult) -> None:
    """Tag the current send span with what was stored and what the provider said."""
    if recorded is not None:
        tag(request=recorded.number, workspace=recorded.workspace, status=recorded.status)
    tag(
        provider=result.provider,
        provider_id=result.provider_id,
        outcome=result.outcome.value,
        error_code=result.error_code,
    )


def _attrs(values: dict[str, Any]) -> dict[str, Any]:
    return {f"reviewops.{k}": v for k, v in values.items() if v is not None}
