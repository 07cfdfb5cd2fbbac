//go:build !linux

package wsproto

const largeOffHeap = false
