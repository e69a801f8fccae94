package loadtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lotse-bot/lotse/bot/redisstore"
	"github.com/lotse-bot/lotse/internal/redisserver"
)

// ErrNoRedisServer: redis-server is not on PATH.
var ErrNoRedisServer = redisserver.ErrNotFound

// RedisServer is a throwaway redis-server on a free 127.0.0.1 port,
// without persistence. Kill and Restart let fault runs take it away
// under load and bring it back on the same address.
type RedisServer = redisserver.Server

// StartRedis starts a redis-server found on PATH.
func StartRedis() (*RedisServer, error) { return redisserver.Start("lotse-bench-redis-") }

// CommandStats returns the number of calls per command from INFO
// commandstats ("set" → 1234). Deltas of two snapshots divided by the
// updates in between give commands per update.
func CommandStats(ctx context.Context, rdb redis.UniversalClient) (map[string]int64, error) {
	info, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		return nil, fmt.Errorf("INFO commandstats: %w", err)
	}
	out := map[string]int64{}
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		// cmdstat_set:calls=3,usec=10,usec_per_call=3.33,...
		name, rest, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		name, isCmd := strings.CutPrefix(name, "cmdstat_")
		if !ok || !isCmd {
			continue
		}
		for _, kv := range strings.Split(rest, ",") {
			if v, ok := strings.CutPrefix(kv, "calls="); ok {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return nil, fmt.Errorf("INFO commandstats: bad line %q", sc.Text())
				}
				out[name] = n
			}
		}
	}
	return out, nil
}

// Delta returns after - before per command, leaving out commands that
// did not change.
func Delta(before, after map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for k, v := range after {
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// ServerCPU returns the CPU time (user and system) the Redis server has
// used since it started, from INFO cpu.
func ServerCPU(ctx context.Context, rdb redis.UniversalClient) (time.Duration, error) {
	info, err := rdb.Info(ctx, "cpu").Result()
	if err != nil {
		return 0, fmt.Errorf("INFO cpu: %w", err)
	}
	var total time.Duration
	found := 0
	for line := range strings.Lines(info) {
		name, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || (name != "used_cpu_user" && name != "used_cpu_sys") {
			continue
		}
		secs, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, fmt.Errorf("INFO cpu: bad line %q", line)
		}
		total += time.Duration(secs * float64(time.Second))
		found++
	}
	if found != 2 {
		return 0, errors.New("INFO cpu: used_cpu_user or used_cpu_sys missing")
	}
	return total, nil
}

// RoundTrips is a go-redis hook counting round trips as the callers
// waited for them: one per command sent alone, one per pipeline or
// transaction whatever its length, and for a pipeline of the store's
// group commit one per caller whose commands it carries
// (redisstore.GroupCommitCallers). Pipelines counts what was actually
// sent. Add it with rdb.AddHook.
type RoundTrips struct {
	n, sent atomic.Int64
}

var _ redis.Hook = (*RoundTrips)(nil)

// Count returns the round trips so far.
func (r *RoundTrips) Count() int64 { return r.n.Load() }

// Sent returns the commands sent alone and pipelines so far.
func (r *RoundTrips) Sent() int64 { return r.sent.Load() }

// DialHook passes dials through.
func (r *RoundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook counts a single command.
func (r *RoundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.n.Add(1)
		r.sent.Add(1)
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook counts a pipeline as one round trip, or as one per
// caller for a group commit.
func (r *RoundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		r.n.Add(int64(max(redisstore.GroupCommitCallers(ctx), 1)))
		r.sent.Add(1)
		return next(ctx, cmds)
	}
}
