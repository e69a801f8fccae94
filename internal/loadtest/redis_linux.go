package loadtest

import "syscall"

// procAttr makes the kernel kill redis-server when the benchmark dies
// without cleaning up, so no server outlives its run.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
