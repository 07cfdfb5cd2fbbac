// Package hooks checks a service's callback methods once per dynamic type.
//
// netkit's services are Go values whose optional callbacks (OnError,
// OnClose, ...) are found by type assertion. A method named On* that matches
// no callback, or has the wrong signature (a typo, or Ballerina's shape
// without the Caller), would be silently ignored by a type assertion; a
// [Set] turns it into an error at attach time instead.
package hooks

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
)

// Set is one face's family of callbacks: each allowed method name with the
// signatures it may have. Its Check results are cached per dynamic type.
type Set struct {
	what  string
	sigs  map[string][]string
	shape Shape
	cache sync.Map // reflect.Type -> error (nil when fine)
}

// Shape judges a method that has none of the exact signatures [Set.Allow]
// gave (or whose name Allow did not give): a face whose callbacks may take
// a type of the user's (data binding) accepts them by shape. It returns
// known false when the method is not of its concern (the Set reports it as
// unknown or misshaped), and a non-empty problem when the method is one of
// its callbacks but is malformed. ft is the method's type without the
// receiver.
type Shape func(name string, ft reflect.Type) (known bool, problem string)

// AllowShape makes shape judge the methods that match no exact signature.
// It returns s.
func (s *Set) AllowShape(shape Shape) *Set {
	s.shape = shape
	return s
}

// NewSet returns an empty set; what names the service kind in errors (for
// example "tcp: ConnectionService").
func NewSet(what string) *Set { return &Set{what: what, sigs: map[string][]string{}} }

// Allow accepts a method name with any of sigs (see [Sig]). It returns s.
func (s *Set) Allow(name string, sigs ...string) *Set {
	s.sigs[name] = append(s.sigs[name], sigs...)
	return s
}

// Sig returns the signature of method name of interface type T, as
// "func(*tcp.Caller, []uint8) ([]uint8, error)".
func Sig[T any](name string) string {
	m, ok := reflect.TypeFor[T]().MethodByName(name)
	if !ok {
		panic("hooks: no method " + name + " in " + reflect.TypeFor[T]().String())
	}
	return m.Type.String()
}

// methodFunc returns a method type without its receiver.
func methodFunc(ft reflect.Type) reflect.Type {
	in := make([]reflect.Type, 0, ft.NumIn())
	for i := 1; i < ft.NumIn(); i++ {
		in = append(in, ft.In(i))
	}
	out := make([]reflect.Type, 0, ft.NumOut())
	for i := 0; i < ft.NumOut(); i++ {
		out = append(out, ft.Out(i))
	}
	return reflect.FuncOf(in, out, ft.IsVariadic())
}

// MethodSig returns the signature of a concrete type's method type (its
// receiver dropped).
func MethodSig(ft reflect.Type) string { return methodFunc(ft).String() }

// Problems lists t's On* methods that are not allowed or have none of their
// allowed signatures. It is not cached.
func (s *Set) Problems(t reflect.Type) []string {
	var problems []string
	for i := 0; i < t.NumMethod(); i++ {
		m := t.Method(i)
		if !strings.HasPrefix(m.Name, "On") {
			continue
		}
		want, ok := s.sigs[m.Name]
		got := MethodSig(m.Type)
		match := false
		for _, w := range want {
			match = match || got == w
		}
		if match {
			continue
		}
		if s.shape != nil {
			if known, problem := s.shape(m.Name, methodFunc(m.Type)); known {
				if problem != "" {
					problems = append(problems, m.Name+": "+problem)
				}
				continue
			}
		}
		if !ok {
			problems = append(problems, "unknown callback "+m.Name)
			continue
		}
		problems = append(problems, fmt.Sprintf("%s has signature %s, want %s", m.Name, got, strings.Join(want, " or ")))
	}
	return problems
}

// Check returns an error listing the [Set.Problems] of v's dynamic type, or
// nil. The result is computed once per type.
func (s *Set) Check(v any) error {
	return s.CheckWith(v, nil)
}

// CheckWith is Check with extra, face-specific problems (computed once per
// type as well) appended to the generic ones.
func (s *Set) CheckWith(v any, extra func(t reflect.Type) []string) error {
	t := reflect.TypeOf(v)
	if t == nil {
		return nil
	}
	if cached, ok := s.cache.Load(t); ok {
		if cached == nil {
			return nil
		}
		return cached.(error)
	}
	problems := s.Problems(t)
	if extra != nil {
		problems = append(problems, extra(t)...)
	}
	var err error
	if len(problems) > 0 {
		err = fmt.Errorf("%s %s: %s", s.what, t, strings.Join(problems, "; "))
	}
	s.cache.Store(t, err)
	return err
}
