package bottest

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// fakeTB records how a helper ended the test. Fatal and Skip stop the
// goroutine, as testing.T's do.
type fakeTB struct {
	testing.TB
	fatal, skip string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Fatal(args ...any) { f.fatal = fmt.Sprint(args...); runtime.Goexit() }

func (f *fakeTB) Skip(args ...any) { f.skip = fmt.Sprint(args...); runtime.Goexit() }

func TestNoServer(t *testing.T) {
	tests := []struct {
		name      string
		ci        bool
		wantFatal bool
	}{
		{"CI fails", true, true},
		{"local skips loudly", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeTB{}
			var stderr bytes.Buffer
			done := make(chan struct{})
			go func() {
				defer close(done)
				noServer(f, tc.ci, &stderr)
			}()
			<-done
			if tc.wantFatal {
				if f.fatal == "" || f.skip != "" {
					t.Fatalf("fatal=%q skip=%q; want a failure under CI", f.fatal, f.skip)
				}
				if !strings.Contains(f.fatal, "scripts/test.sh") {
					t.Errorf("failure %q does not say how to fix it", f.fatal)
				}
				return
			}
			if f.skip == "" || f.fatal != "" {
				t.Fatalf("fatal=%q skip=%q; want a skip", f.fatal, f.skip)
			}
			if !strings.Contains(f.skip, "SKIPPING") || !strings.Contains(stderr.String(), "SKIPPING") {
				t.Errorf("skip %q / stderr %q is not loud", f.skip, stderr.String())
			}
		})
	}
}
