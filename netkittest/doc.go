// Package netkittest provides helpers for testing code built on netkit:
// generated TLS certificates, loopback addresses and checks for external test
// peers. It is used by netkit's own tests and is safe to use in yours.
package netkittest
