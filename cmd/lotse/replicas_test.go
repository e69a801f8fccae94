package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReplicasQuick runs `lotse replicas` small: built lotse binaries as
// webhook replicas on one redis-server with AOF, behind a balancer. It
// asserts what must hold on any machine (no loss, no duplicate, SIGTERM
// bounded, forged requests refused); throughput is reported, not
// asserted.
func TestReplicasQuick(t *testing.T) {
	needRedisServer(t)
	if testing.Short() {
		t.Skip("builds and kills lotse subprocesses; skipped with -short")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not on PATH; cannot build the lotse binary")
	}
	bin := filepath.Join(t.TempDir(), "lotse")
	if out, err := exec.Command(gobin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	size := replicaSize{users: 40, updates: 400, conc: 20, redisDown: 500 * time.Millisecond, forged: 200}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var progress bytes.Buffer
	report, _, err := runReplicas(ctx, size, bin, "lotse replicas (test)", &progress)
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	t.Log("\n" + report)
	verdicts := map[string]string{}
	for _, line := range strings.Split(report, "\n") {
		cells := strings.Split(line, " | ")
		if len(cells) == 4 {
			verdicts[strings.TrimPrefix(cells[0], "| ")+" / "+cells[1]] = strings.TrimSuffix(cells[3], " |")
		}
	}
	for _, key := range []string{
		"1 replica(s) / zero losses, zero duplicates, every update acknowledged",
		"2 replica(s) / zero losses, zero duplicates, every update acknowledged",
		"3 replica(s) / zero losses, zero duplicates, every update acknowledged",
		"kill -9 of one replica / nothing acknowledged lost",
		"SIGTERM to one replica / exits 0 within 20s",
		"SIGTERM to one replica / nothing acknowledged lost, no duplicates",
		"Redis killed and restarted / nothing acknowledged lost",
		"200 forged webhook requests / all rejected, no handler run, nothing sent",
	} {
		if v, ok := verdicts[key]; !ok || v != "PASS" {
			t.Errorf("%s: %q, want PASS", key, v)
		}
	}
}
