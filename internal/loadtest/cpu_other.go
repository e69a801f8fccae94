//go:build !unix

package loadtest

import "time"

// ProcessCPU is 0 where the process' CPU time cannot be read.
func ProcessCPU() time.Duration { return 0 }
