package netkittest

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"
)

// TestTimeout bounds the context returned by [Context]: well below go
// test's default 10-minute timeout, so that a stuck test fails with its own
// message instead of a dump of every goroutine.
const TestTimeout = 20 * time.Second

// Context returns a context that ends after TestTimeout or when the test
// finishes.
func Context(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), TestTimeout)
	tb.Cleanup(cancel)
	return ctx
}

// DiscardLogger is a logger that drops everything: for tests that provoke
// errors and panics on purpose.
var DiscardLogger = slog.New(slog.NewTextHandler(io.Discard, nil))
