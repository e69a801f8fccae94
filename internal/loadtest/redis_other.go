//go:build !linux

package loadtest

import "syscall"

// procAttr: only Linux can tie the server's life to ours.
func procAttr() *syscall.SysProcAttr { return nil }
