package redisstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lotse-bot/lotse/bot/bottest"
)

// gate holds every pipeline at the client until released, so a test can
// fill the queue behind the batches in flight.
type gate struct {
	entered chan struct{}
	release chan struct{}
}

func (g *gate) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (g *gate) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (g *gate) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		g.entered <- struct{}{}
		<-g.release
		return next(ctx, cmds)
	}
}

// gatedClient is a client of the test Redis whose pipelines wait for g.
func gatedClient(t *testing.T) (*redis.Client, *gate, string) {
	t.Helper()
	shared := bottest.Redis(t)
	ns := bottest.Namespace(t, shared)
	c, ok := shared.(*redis.Client)
	if !ok {
		t.Fatalf("test Redis client is %T, want *redis.Client", shared)
	}
	rdb := redis.NewClient(c.Options())
	t.Cleanup(func() { rdb.Close() })
	g := &gate{entered: make(chan struct{}, 64), release: make(chan struct{})}
	rdb.AddHook(g)
	return rdb, g, ns
}

func (g *groupCommit) queued() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.queue)
}

// waitQueued waits until n callers are queued, for at most 10 s.
func waitQueued(t *testing.T, g *groupCommit, n int) {
	t.Helper()
	for range 10000 {
		if g.queued() == n {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("%d callers queued, want %d", g.queued(), n)
}

// setGet is one caller's commands: its own value written and read back.
func setGet(ctx context.Context, g *groupCommit, key, val string) (string, error) {
	var get *redis.StringCmd
	var set *redis.StatusCmd
	if err := g.do(ctx, func(p redis.Pipeliner) {
		set = p.Set(ctx, key, val, time.Minute)
		get = p.Get(ctx, key)
	}); err != nil {
		return "", err
	}
	if err := set.Err(); err != nil {
		return "", err
	}
	return get.Result()
}

// TestGroupCommitBatches: callers arriving while both pipeline slots are
// busy go out together in one pipeline, and each gets its own replies.
func TestGroupCommitBatches(t *testing.T) {
	rdb, gt, ns := gatedClient(t)
	g := &groupCommit{rdb: rdb}
	ctx := context.Background()
	const waiting = 100
	results := make([]string, 2+waiting)
	errs := make([]error, 2+waiting)
	var wg sync.WaitGroup
	call := func(i int) {
		wg.Go(func() {
			results[i], errs[i] = setGet(ctx, g, fmt.Sprintf("%s:k%d", ns, i), fmt.Sprintf("v%d", i))
		})
	}
	// One at a time, so the two do not share a batch.
	call(0)
	<-gt.entered
	call(1)
	<-gt.entered // both slots are on the wire
	for i := 2; i < 2+waiting; i++ {
		call(i)
	}
	waitQueued(t, g, waiting)
	close(gt.release)
	wg.Wait()
	for i := range results {
		if errs[i] != nil || results[i] != fmt.Sprintf("v%d", i) {
			t.Errorf("caller %d: %q, %v; want v%d", i, results[i], errs[i], i)
		}
	}
	req, pipes := g.requests.Load(), g.pipelines.Load()
	if req != 2+waiting || pipes != 3 {
		t.Errorf("%d requests in %d pipelines, want %d in 3", req, pipes, 2+waiting)
	}
}

// TestGroupCommitBatchLimit: a queue longer than one batch is sent in
// several, all answered.
func TestGroupCommitBatchLimit(t *testing.T) {
	rdb, gt, ns := gatedClient(t)
	g := &groupCommit{rdb: rdb}
	ctx := context.Background()
	waiting := gcMaxBatch*2 + 10
	var wg sync.WaitGroup
	var mu sync.Mutex
	bad := 0
	call := func(i int) {
		wg.Go(func() {
			v, err := setGet(ctx, g, fmt.Sprintf("%s:k%d", ns, i), fmt.Sprint(i))
			if err != nil || v != fmt.Sprint(i) {
				mu.Lock()
				bad++
				mu.Unlock()
			}
		})
	}
	call(0)
	<-gt.entered
	call(1)
	<-gt.entered
	for i := 2; i < 2+waiting; i++ {
		call(i)
	}
	waitQueued(t, g, waiting)
	close(gt.release)
	wg.Wait()
	if bad != 0 {
		t.Errorf("%d callers got a wrong answer or an error", bad)
	}
	// 2 in flight, then 522 queued in batches of at most 256: 3 more.
	if pipes := g.pipelines.Load(); pipes != 5 {
		t.Errorf("%d pipelines, want 5", pipes)
	}
}

// TestGroupCommitCancel: a caller whose context ends stops waiting at
// once; one whose context ended before never sends anything.
func TestGroupCommitCancel(t *testing.T) {
	rdb, gt, ns := gatedClient(t)
	g := &groupCommit{rdb: rdb}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := setGet(ctx, g, ns+":never", "x"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled before: err = %v", err)
	}
	if g.requests.Load() != 0 || g.queued() != 0 {
		t.Fatal("a cancelled caller queued commands")
	}

	// Both slots held; a third caller waits in the queue and gives up.
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() { _, _ = setGet(context.Background(), g, fmt.Sprintf("%s:h%d", ns, i), "x") })
		<-gt.entered
	}
	ctx, cancel = context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { _, err := setGet(ctx, g, ns+":late", "x"); errc <- err }()
	waitQueued(t, g, 1)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled while queued: err = %v", err)
	}
	close(gt.release)
	wg.Wait()
}

// TestGroupCommitUnavailable: when Redis cannot be reached every caller
// of the batch finds the error on its own commands.
func TestGroupCommitUnavailable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	rdb := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 200 * time.Millisecond, MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { rdb.Close() })
	g := &groupCommit{rdb: rdb}
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Go(func() { _, errs[i] = setGet(context.Background(), g, fmt.Sprint("k", i), "x") })
	}
	wg.Wait()
	for i, err := range errs {
		var op *net.OpError
		if !errors.As(err, &op) {
			t.Errorf("caller %d: err = %v, want the dial error", i, err)
		}
	}
}
