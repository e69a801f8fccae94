package main

import (
	"context"
	"os"
	"testing"
	"time"
)

// TestChaosFlood runs the flood scenario of `lotse chaos` alone (small;
// LOTSE_CHAOS_FULL=1 for the full size of `lotse chaos`). It asserts
// what holds whatever the machine: the flooder's replies stay within
// the per-chat limit, its excess messages are dropped without a send,
// every other user is answered, and both runs measured the same users.
// The others' p99 against the quiet run is a timing figure: logged, not
// asserted.
func TestChaosFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for about half a minute; skipped with -short")
	}
	size := chaosSize{floodUsers: 5, floodFor: 3 * time.Second, floodWait: 10 * time.Second}
	if os.Getenv("LOTSE_CHAOS_FULL") == "1" {
		size = chaosSizes(false)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	want := size.floodUsers * int(size.floodFor/time.Second)
	var quiet floodResult
	for _, run := range []bool{false, true} {
		r, err := floodRun(ctx, size, run)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("flood=%v: others p50 %s p99 %s (%d answered); flooder: %d pushed, %d handled, %d dropped, %d queued in the outbox, %d messages in %.1f s",
			run, ms(r.others.P50), ms(r.others.P99), r.others.Updates, r.flooderPushed, r.flooderHandled, r.flooderDropped, r.flooderPaced, r.flooderSent, r.over.Seconds())
		if !run {
			quiet = r
			continue
		}
		t.Logf("others' p99 flood/quiet: %.2f (the target is at most 1.10)", float64(r.others.P99)/float64(quiet.others.P99))
		if float64(r.flooderSent) > r.over.Seconds()+3+1 {
			t.Errorf("flooder got %d messages in %.1f s, more than the per-chat limit allows", r.flooderSent, r.over.Seconds())
		}
		if r.others.Updates < want {
			t.Errorf("flood=%v: %d of at least %d questions of the others answered", run, r.others.Updates, want)
		}
		if !run {
			continue
		}
		// Every flooder update was handled, nearly all by dropping it;
		// what was not dropped got at most one message each, plus
		// the one notice.
		if r.flooderHandled != r.flooderPushed {
			t.Errorf("%d of %d flooder updates handled", r.flooderHandled, r.flooderPushed)
		}
		if answered := r.flooderHandled - r.flooderDropped; r.flooderSent > answered+1 || answered > r.flooderPushed/10 {
			t.Errorf("flooder: %d messages for %d answered updates (%d dropped of %d)", r.flooderSent, answered, r.flooderDropped, r.flooderPushed)
		}
	}
}
