package obs

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// StartUpgrade starts the span of a WebSocket upgrade request for route
// (an attached path, or ""), its parent extracted from r's headers. It
// returns r with the span's context (so an UpgradeService sees it) and the
// span; with tracing off, r itself and a no-op span.
func (s *Set) StartUpgrade(r *http.Request, route string) (*http.Request, trace.Span) {
	if s == nil || s.tracer == nil {
		return r, trace.SpanFromContext(context.Background())
	}
	ctx := s.propagator().Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	name := r.Method
	if route != "" {
		name += " " + route
	}
	v := s.v.Load()
	ctx, span := s.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(v.base...),
		trace.WithAttributes(keyHTTPMethod.String(r.Method)))
	if route != "" {
		span.SetAttributes(keyRoute.String(route))
	}
	if r.RemoteAddr != "" {
		span.SetAttributes(keyNetPeerAddr.String(r.RemoteAddr))
	}
	return r.WithContext(ctx), span
}

// EndUpgrade ends an upgrade span with the status answered (5xx marks the
// span as an error, as the HTTP server conventions say).
func EndUpgrade(span trace.Span, status int) {
	if !span.IsRecording() {
		span.End()
		return
	}
	span.SetAttributes(keyStatusCode.Int(status))
	if status >= 500 {
		span.SetStatus(codes.Error, "")
	}
	span.End()
}

// StartDial starts the span of a client dial to url (its scheme and
// address as the attributes) and returns its context; with tracing off, ctx
// and a no-op span.
func (s *Set) StartDial(ctx context.Context, scheme, url string) (context.Context, trace.Span) {
	if s == nil || s.tracer == nil {
		return ctx, trace.SpanFromContext(context.Background())
	}
	v := s.v.Load()
	ctx, span := s.tracer.Start(ctx, s.face+".dial", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(v.base...))
	if scheme != "" {
		span.SetAttributes(keyURLScheme.String(scheme))
	}
	if url != "" {
		span.SetAttributes(keyURLFull.String(url))
	}
	return ctx, span
}

// Inject writes ctx's span context into h with the propagator, so that the
// server's upgrade span is a child of the client's dial span.
func (s *Set) Inject(ctx context.Context, h http.Header) {
	if s == nil || s.tracer == nil {
		return
	}
	s.propagator().Inject(ctx, propagation.HeaderCarrier(h))
}

// EndSpan ends span, recording err (if any) with its kind as error.type.
func EndSpan(span trace.Span, err error) {
	if err != nil && span.IsRecording() {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		if k := ErrorKind(err); k != "" {
			span.SetAttributes(keyErrorType.String(k))
		}
	}
	span.End()
}
