package cli

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncWriter is a goroutine-safe buffer that signals each write on wrote
// (once it was made).
type syncWriter struct {
	mu    sync.Mutex
	b     bytes.Buffer
	wrote chan struct{}
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.wrote != nil {
		select {
		case s.wrote <- struct{}{}:
		default:
		}
	}
	return s.b.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// lineLog collects the lines a command writes and lets a test wait for one.
type lineLog struct {
	mu      sync.Mutex
	lines   []string
	changed chan struct{} // closed at each new line and at the end
	ended   bool
}

// newLineLog returns a writer for a command and the log of its lines.
func newLineLog() (io.WriteCloser, *lineLog) {
	pr, pw := io.Pipe()
	l := &lineLog{changed: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			l.mu.Lock()
			l.lines = append(l.lines, sc.Text())
			close(l.changed)
			l.changed = make(chan struct{})
			l.mu.Unlock()
		}
		io.Copy(io.Discard, pr)
		l.mu.Lock()
		l.ended = true
		close(l.changed)
		l.mu.Unlock()
	}()
	return pw, l
}

// wait returns the submatches of the first line matching re, waiting up to
// 10 s for it; it fails the test if the output ends or the time passes.
func (l *lineLog) wait(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		l.mu.Lock()
		for _, line := range l.lines {
			if m := re.FindStringSubmatch(line); m != nil {
				l.mu.Unlock()
				return m
			}
		}
		ended, changed := l.ended, l.changed
		l.mu.Unlock()
		if ended {
			t.Fatalf("output ended without a line matching %s:\n%s", re, l.String())
		}
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("no line matching %s within 10 s:\n%s", re, l.String())
		}
	}
}

func (l *lineLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// running is a server command (serve or a listen) run by a test.
type running struct {
	cancel context.CancelFunc
	done   chan error
	out    *syncWriter // stdout
	log    *lineLog    // stderr
}

// startCommand runs a server command until stop (or the test's end).
func startCommand(t *testing.T, args ...string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w, log := newLineLog()
	r := &running{cancel: cancel, done: make(chan error, 1), out: &syncWriter{wrote: make(chan struct{}, 1)}, log: log}
	go func() {
		err := Run(ctx, args, nil, r.out, w)
		w.Close()
		r.done <- err
	}()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// addr waits for the "listening" log line of proto (text or JSON handler)
// and returns the address.
func (r *running) addr(t *testing.T, proto string) string {
	t.Helper()
	re := regexp.MustCompile(`msg=listening proto=` + proto + ` addr=(\S+)|"msg":"listening","proto":"` + proto + `","addr":"([^"]+)"`)
	m := r.log.wait(t, re)
	return m[1] + m[2]
}

// stop cancels the command (Ctrl-C) and returns its result.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err // for a later stop
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("the command did not stop within 10 s")
	}
	return nil
}
