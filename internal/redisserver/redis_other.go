//go:build !linux

package redisserver

import "syscall"

// procAttr: outside Linux there is no parent-death signal; the server
// lives until Stop or Kill.
func procAttr() *syscall.SysProcAttr { return nil }
