//go:build !unix

package engine

func defaultMaxConnections() int { return -1 }
