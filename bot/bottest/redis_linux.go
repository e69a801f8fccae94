package bottest

import "syscall"

// procAttr makes the kernel kill redis-server when the test binary dies
// without running Main's cleanup (a panic, a -timeout, a kill), so no
// server outlives its tests.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
