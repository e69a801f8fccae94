package redisstore

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// groupCommit sends the commands of many concurrent callers to Redis in
// one pipeline (group commit). Every update costs the bot two exchanges
// with Redis (claim + session read, then done mark + session write); with
// a thousand users talking at once, a pipeline per update spends more on
// system calls and wake-ups, on both sides of the socket, than Redis
// spends on the commands. Batched, a caller still waits for its own
// replies, in the order it queued its commands, so the semantics of
// each caller's commands are those of its own pipeline: not atomic, and
// a connection failure fails every command of the batch.
//
// There is no background goroutine to stop: the first caller to find a
// free pipeline slot sends the batch itself; whoever finishes a batch and
// finds callers waiting hands them to a new goroutine, which keeps
// sending while any are queued and then ends.
type groupCommit struct {
	rdb redis.UniversalClient

	mu      sync.Mutex
	queue   []*gcRequest
	running int // batches being sent, ≤ maxInFlight

	requests  atomic.Int64 // callers served
	pipelines atomic.Int64 // pipelines sent for them
}

type gcRequest struct {
	add  func(redis.Pipeliner)
	done chan struct{}
}

const (
	// gcMaxInFlight bounds the batches on the wire at once. Two keep
	// Redis busy while the next batch gathers; more would only split the
	// same callers into smaller batches.
	gcMaxInFlight = 2
	// gcMaxBatch bounds one pipeline, so a burst does not build one
	// huge write that delays everybody in it.
	gcMaxBatch = 256
)

// do queues add's commands and returns when Redis has answered them (the
// commands carry their own results and errors) or ctx ends. add runs on
// another goroutine while do waits, and must only queue commands on the
// pipeliner it is given. After ctx ended the commands may still be sent.
func (g *groupCommit) do(ctx context.Context, add func(redis.Pipeliner)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &gcRequest{add: add, done: make(chan struct{})}
	g.mu.Lock()
	g.queue = append(g.queue, r)
	lead := g.running < gcMaxInFlight
	if lead {
		g.running++
	}
	g.mu.Unlock()
	if lead {
		// Send on this goroutine, after letting the goroutines that are
		// ready to run go first: under load they are handlers about to
		// queue their commands too, and join this batch; when quiet
		// there are none and Gosched returns at once.
		runtime.Gosched()
		g.mu.Lock()
		batch := g.take()
		g.mu.Unlock()
		g.send(batch)
		g.handOff()
	}
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		select {
		case <-r.done: // answered after all: the results count
			return nil
		default:
			return ctx.Err()
		}
	}
}

// take removes up to gcMaxBatch requests from the queue; g.mu is held.
func (g *groupCommit) take() []*gcRequest {
	n := min(len(g.queue), gcMaxBatch)
	batch := make([]*gcRequest, n)
	copy(batch, g.queue)
	rest := copy(g.queue, g.queue[n:])
	clear(g.queue[rest:])
	g.queue = g.queue[:rest]
	return batch
}

// handOff is called by a sender after its batch: it gives the slot back,
// or, with callers queued meanwhile, keeps it and sends their batches
// on a goroutine of its own, so the sender's caller is not held up.
func (g *groupCommit) handOff() {
	g.mu.Lock()
	if len(g.queue) == 0 {
		g.running--
		g.mu.Unlock()
		return
	}
	g.mu.Unlock()
	go func() {
		for {
			runtime.Gosched() // as in do: let ready callers join
			g.mu.Lock()
			if len(g.queue) == 0 {
				g.running--
				g.mu.Unlock()
				return
			}
			batch := g.take()
			g.mu.Unlock()
			g.send(batch)
		}
	}()
}

func (g *groupCommit) send(batch []*gcRequest) {
	pipe := g.rdb.Pipeline()
	for _, r := range batch {
		r.add(pipe)
	}
	// Counted before sending, as a client hook counts the pipeline, so
	// the two counts can be compared at any moment.
	g.pipelines.Add(1)
	g.requests.Add(int64(len(batch)))
	// The batch belongs to many callers, so no caller's context may
	// cancel it; the client's read and write timeouts bound it. Exec's
	// error is the first failed command's, which every caller finds on
	// its own commands.
	_, _ = pipe.Exec(context.WithValue(context.Background(), groupCommitKey{}, len(batch)))
	for _, r := range batch {
		close(r.done)
	}
}

type groupCommitKey struct{}

// GroupCommitCallers returns, for the context a go-redis hook sees, how
// many callers' commands the pipeline carries if it is a group commit,
// and 0 otherwise. A hook counting round trips counts each caller: each
// waited for one exchange with Redis.
func GroupCommitCallers(ctx context.Context) int {
	n, _ := ctx.Value(groupCommitKey{}).(int)
	return n
}
