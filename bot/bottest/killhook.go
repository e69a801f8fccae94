package bottest

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"
)

// ErrKilled is the error of every command of a client after its KillHook
// fired.
var ErrKilled = errors.New("test: process killed")

// KillHook makes a Redis client behave like a process killed with
// kill -9 right after the first command matching After succeeded: every
// later command fails with ErrKilled without reaching Redis.
type KillHook struct {
	After func(args []any) bool
	dead  atomic.Bool
}

// Dead reports whether the hook has fired.
func (h *KillHook) Dead() bool { return h.dead.Load() }

// DialHook implements redis.Hook.
func (h *KillHook) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook implements redis.Hook.
func (h *KillHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if h.dead.Load() {
			cmd.SetErr(ErrKilled)
			return ErrKilled
		}
		err := next(ctx, cmd)
		if err == nil && h.After(cmd.Args()) {
			h.dead.Store(true)
		}
		return err
	}
}

// ProcessPipelineHook implements redis.Hook.
func (h *KillHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if h.dead.Load() {
			for _, c := range cmds {
				c.SetErr(ErrKilled)
			}
			return ErrKilled
		}
		return next(ctx, cmds)
	}
}

// DyingCluster returns a client of rdb's cluster of its own, closed when
// tb ends, that dies as kill says.
func DyingCluster(tb testing.TB, rdb *redis.ClusterClient, kill *KillHook) *redis.ClusterClient {
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: rdb.Options().Addrs})
	tb.Cleanup(func() { c.Close() })
	c.AddHook(kill)
	return c
}
