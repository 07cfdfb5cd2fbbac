package hooks

import (
	"reflect"
	"strings"
	"testing"

	"github.com/netkit-go/netkit/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

type handler interface{ OnThing(n int) error }
type closer interface{ OnClose() }

type good struct{}

func (good) OnThing(int) error { return nil }
func (good) OnClose()          {}
func (good) Other()            {}

type typo struct{}

func (typo) OnThing(int) error { return nil }
func (typo) OnClosed()         {}

type wrongSig struct{}

func (wrongSig) OnThing(string) error { return nil }

func TestCheck(t *testing.T) {
	s := NewSet("test: Service").Allow("OnThing", Sig[handler]("OnThing")).Allow("OnClose", Sig[closer]("OnClose"))
	if err := s.Check(good{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Check(typo{}); err == nil || !strings.Contains(err.Error(), "unknown callback OnClosed") {
		t.Fatalf("typo: %v", err)
	}
	err := s.Check(wrongSig{})
	if err == nil || !strings.Contains(err.Error(), "OnThing has signature func(string) error, want func(int) error") {
		t.Fatalf("wrong signature: %v", err)
	}
	if s.Check(wrongSig{}) != err {
		t.Fatal("result not cached")
	}
	if err := s.Check(nil); err != nil {
		t.Fatal(err)
	}
	// Alternatives and extra problems.
	alt := NewSet("alt").Allow("OnThing", "func(string) error", Sig[handler]("OnThing"))
	if err := alt.Check(wrongSig{}); err != nil {
		t.Fatal(err)
	}
	err = alt.CheckWith(good{}, func(t reflect.Type) []string { return []string{"extra problem"} })
	if err == nil || !strings.Contains(err.Error(), "extra problem") || !strings.Contains(err.Error(), "unknown callback OnClose") {
		t.Fatalf("CheckWith: %v", err)
	}
}
