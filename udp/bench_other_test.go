//go:build !linux

package udp

var mmsgGen, gsoGen generator
