//go:build !linux

package loadgen

import (
	"errors"
	"net/netip"
)

type sockDiag struct{}

func newSockDiag() (*sockDiag, error) { return nil, errors.New("sock_diag: Linux only") }

func (d *sockDiag) close() {}

func (d *sockDiag) lookup(local, remote netip.AddrPort) (sockState, error) {
	return sockState{}, errors.New("sock_diag: Linux only")
}
