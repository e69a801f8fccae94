//go:build !linux

package bottest

import "syscall"

// procAttr: outside Linux there is no parent-death signal; Main stops the
// server.
func procAttr() *syscall.SysProcAttr { return nil }
