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

type shaped struct{}

func (shaped) OnThing(int) error      { return nil }
func (shaped) OnAnything(string) bool { return true }
func (shaped) OnBad(string)           {}

// TestAllowShape: a Shape accepts methods by shape, reports the malformed
// ones it knows, and leaves the rest to the exact signatures.
func TestAllowShape(t *testing.T) {
	s := NewSet("test").Allow("OnThing", Sig[handler]("OnThing")).AllowShape(func(name string, ft reflect.Type) (bool, string) {
		switch name {
		case "OnAnything":
			return true, ""
		case "OnBad":
			return true, "bad shape"
		}
		return false, ""
	})
	got := s.Problems(reflect.TypeFor[shaped]())
	if len(got) != 1 || got[0] != "OnBad: bad shape" {
		t.Fatalf("problems %q", got)
	}
	if p := s.Problems(reflect.TypeFor[wrongSig]()); len(p) != 1 || !strings.Contains(p[0], "OnThing has signature") {
		t.Fatalf("wrong signature: %q", p)
	}
}
