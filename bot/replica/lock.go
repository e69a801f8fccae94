package replica

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Locks is a short lock per chat shared by all replicas
// (telegram.ChatLocker): SET NX PX with a random token, renewed while
// held, released by a compare-and-delete script, so a holder whose lease
// ran out can never release someone else's lock.
//
// Waiters poll with a backoff of 2 to 50 ms; whoever asks first after a
// release wins, so the order of updates that arrive at the same time is
// not kept (see telegram.Webhook).
type Locks struct {
	rdb    redis.UniversalClient
	cfg    Config
	prefix string
}

// NewLocks returns Locks on rdb.
func NewLocks(rdb redis.UniversalClient, cfg Config) (*Locks, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Locks{rdb: rdb, cfg: cfg, prefix: cfg.Namespace + ":chatlock:"}, nil
}

// ErrBusy: the chat's lock stayed taken for the whole LockWait.
var ErrBusy = errors.New("chat lock busy")

var (
	releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)
	renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`)
)

// Lock waits until the chat's lock is free, at most LockWait or until
// ctx ends, and takes it. It returns ctx's error, an error wrapping
// ErrBusy and context.DeadlineExceeded when LockWait passed, or one
// wrapping bot.ErrUnavailable when Redis does not answer.
func (l *Locks) Lock(ctx context.Context, chat int64) (func(), error) {
	key := l.prefix + chatRef(l.cfg.Secret, chat)
	tok := token()
	wctx, cancel := context.WithTimeout(ctx, l.cfg.LockWait)
	defer cancel()
	backoff := 2 * time.Millisecond
	for {
		cctx, ccancel := context.WithTimeout(wctx, l.cfg.CallTimeout)
		ok, err := l.rdb.SetNX(cctx, key, tok, l.cfg.LockTTL).Result()
		ccancel()
		if err != nil {
			if wctx.Err() != nil && ctx.Err() == nil {
				return nil, fmt.Errorf("replica chat lock: %w (waited %v): %w", ErrBusy, l.cfg.LockWait, context.DeadlineExceeded)
			}
			err = unavailable(ctx, "chat lock", err)
			l.cfg.observe(PartLock, err)
			return nil, err
		}
		if ok {
			l.cfg.observe(PartLock, nil)
			break
		}
		if err := sleep(wctx, backoff); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("replica chat lock: %w (waited %v): %w", ErrBusy, l.cfg.LockWait, context.DeadlineExceeded)
		}
		backoff = min(2*backoff, 50*time.Millisecond)
	}

	// Renew at a third of the lease while the update is handled.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(l.cfg.LockTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				rctx, rcancel := context.WithTimeout(context.Background(), l.cfg.CallTimeout)
				renewScript.Run(rctx, l.rdb, []string{key}, tok, l.cfg.LockTTL.Milliseconds())
				rcancel()
			}
		}
	})
	var once sync.Once
	return func() {
		once.Do(func() {
			close(stop)
			wg.Wait()
			// Best effort: if it fails the lease runs out by itself.
			rctx, rcancel := context.WithTimeout(context.Background(), l.cfg.CallTimeout)
			releaseScript.Run(rctx, l.rdb, []string{key}, tok)
			rcancel()
		})
	}, nil
}
