package hub

import (
	"errors"
	"strings"
)

// MaxTopicLength bounds a topic or pattern, in bytes.
const MaxTopicLength = 1024

// ErrBadTopic is wrapped by the errors for malformed topics and patterns.
var ErrBadTopic = errors.New("hub: bad topic")

// topicError is a malformed topic with the reason.
type topicError struct{ topic, why string }

func (e *topicError) Error() string {
	t := e.topic
	if len(t) > 64 {
		t = t[:64] + "..."
	}
	return "hub: bad topic " + quote(t) + ": " + e.why
}

func (e *topicError) Unwrap() error { return ErrBadTopic }

func quote(s string) string { return "\"" + s + "\"" }

// ValidTopic reports whether topic can be published to: NATS subject
// syntax, tokens separated by '.', none empty, no wildcards, no white
// space, at most MaxTopicLength bytes.
func ValidTopic(topic string) error { return checkTopic(topic, false) }

// ValidPattern reports whether pattern can be subscribed to: a topic in
// which a token may be '*' (exactly one token) and the last token may be
// '>' (one or more tokens), as NATS subjects.
func ValidPattern(pattern string) error { return checkTopic(pattern, true) }

func checkTopic(s string, wild bool) error {
	switch {
	case s == "":
		return &topicError{s, "empty"}
	case len(s) > MaxTopicLength:
		return &topicError{s, "longer than MaxTopicLength"}
	}
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) {
			switch c := s[i]; {
			case c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == 0 || c == 0x7f:
				return &topicError{s, "white space or control character"}
			case c != '.':
				continue
			}
		}
		tok := s[start:i]
		switch {
		case tok == "":
			return &topicError{s, "empty token"}
		case tok == "*" || tok == ">":
			if !wild {
				return &topicError{s, "wildcard in a published topic"}
			}
			if tok == ">" && i != len(s) {
				return &topicError{s, "'>' is not the last token"}
			}
		case strings.ContainsAny(tok, "*>"):
			return &topicError{s, "wildcard inside a token"}
		}
		start = i + 1
	}
	return nil
}

// isWild reports whether a valid pattern has a wildcard token.
func isWild(p string) bool {
	return p == "*" || p == ">" || strings.HasPrefix(p, "*.") || strings.HasPrefix(p, ">") ||
		strings.HasSuffix(p, ".*") || strings.HasSuffix(p, ".>") || strings.Contains(p, ".*.")
}

// Match reports whether topic matches pattern in NATS subject syntax: '*'
// stands for one token, a last '>' for one or more. Both are assumed valid
// (see ValidTopic and ValidPattern). It does not allocate.
func Match(pattern, topic string) bool {
	for {
		pt, prest, pmore := strings.Cut(pattern, ".")
		if pt == ">" {
			return topic != ""
		}
		if topic == "" {
			return false
		}
		tt, trest, tmore := strings.Cut(topic, ".")
		if pt != "*" && pt != tt {
			return false
		}
		if !pmore || !tmore {
			return pmore == tmore
		}
		pattern, topic = prest, trest
	}
}
