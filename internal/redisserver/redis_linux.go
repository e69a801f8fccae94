package redisserver

import "syscall"

// procAttr makes the kernel kill redis-server when the process that
// started it dies without stopping it (a panic, a test -timeout, a kill),
// so no server outlives its tests or run.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
