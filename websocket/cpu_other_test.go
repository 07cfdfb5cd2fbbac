//go:build !unix

package websocket

func processCPU() int64 { return 0 }
