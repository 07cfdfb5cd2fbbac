// Package obstest is for tests only: an in-memory OpenTelemetry metric
// reader and span recorder (the SDK), and lookups of the points they hold.
// Library packages must not import it (it brings in the SDK); their tests
// do.
//
// Waits: none.
package obstest
