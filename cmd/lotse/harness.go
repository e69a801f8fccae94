package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
)

// What lotse chaos and lotse replicas share: their subprocesses, their
// table of verdicts and how they end.

// proc is a started subprocess whose exit is awaited in the background.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	exit atomic.Int64  // its exit status once done is closed (0 unless it exited with one)
}

// startProc starts cmd.
func startProc(cmd *exec.Cmd) (*proc, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			p.exit.Store(int64(ee.ExitCode()))
		}
		close(p.done)
	}()
	return p, nil
}

// lotseRunCmd is `bin run` with env and the log copy (childLogCopy),
// its output going to logs.
func lotseRunCmd(bin string, env []string, logs io.Writer) *exec.Cmd {
	cmd := exec.Command(bin, "run")
	cmd.Env = childLogCopy(env)
	cmd.Stdout, cmd.Stderr = logs, logs
	return cmd
}

// writeChecks writes checks as a table and reports whether all passed.
func writeChecks(b *strings.Builder, checks []check) bool {
	fmt.Fprintf(b, "| scenario | property | measured | result |\n|---|---|---|---|\n")
	allOK := true
	for _, c := range checks {
		v := "PASS"
		if !c.ok {
			v, allOK = "FAIL", false
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s |\n", c.scenario, c.property, c.measured, v)
	}
	return allOK
}

// reportExit ends the command lotse NAME that produced report (or err):
// it prints the report, also writes it to the file out if given, and
// returns the exit status, exitFailed on err, on a failed check (!ok)
// or if out cannot be written.
func reportExit(name, report string, ok bool, err error, out string, stdout, stderr io.Writer) int {
	if err != nil {
		fmt.Fprintf(stderr, "lotse %s: %v\n", name, err)
		return exitFailed
	}
	fmt.Fprint(stdout, report)
	if out != "" {
		if err := os.WriteFile(out, []byte(report), 0o644); err != nil {
			fmt.Fprintf(stderr, "lotse %s: %v\n", name, err)
			return exitFailed
		}
	}
	if !ok {
		return exitFailed
	}
	return exitOK
}
