package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/redisstore"
)

// roundTrips counts network round trips: one per command, one per pipeline.
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.n.Add(1)
		return next(ctx, cmd)
	}
}

func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		r.n.Add(1)
		return next(ctx, cmds)
	}
}

// BenchmarkRedisStore simulates the store traffic of one incoming update,
// from many goroutines: dedupe, load the session, save it back.
// Reports updates/s and round trips per update.
func BenchmarkRedisStore(b *testing.B) {
	flows := []struct {
		name string
		fn   func(ctx context.Context, s *redisstore.Store, id int64, u bot.UserKey) error
	}{
		{"FirstSeen+Session+Save", func(ctx context.Context, s *redisstore.Store, id int64, u bot.UserKey) error {
			first, err := s.FirstSeen(ctx, id, 24*time.Hour)
			if err != nil || !first {
				return fmt.Errorf("FirstSeen = %v, %v", first, err)
			}
			sess, err := s.Session(ctx, u)
			if err != nil && !errors.Is(err, bot.ErrNotFound) {
				return err
			}
			sess.State = "x"
			return s.SaveSession(ctx, u, sess, time.Hour)
		}},
		{"Begin+Save", func(ctx context.Context, s *redisstore.Store, id int64, u bot.UserKey) error {
			first, sess, err := s.Begin(ctx, id, 24*time.Hour, u)
			if err != nil || !first {
				return fmt.Errorf("Begin = %v, %v", first, err)
			}
			sess.State = "x"
			return s.SaveSession(ctx, u, sess, time.Hour)
		}},
	}
	for _, f := range flows {
		b.Run(f.name, func(b *testing.B) {
			s, rdb, _ := mustStore(b)
			rt := &roundTrips{}
			rdb.AddHook(rt)
			users := make([]bot.UserKey, 1000)
			for i := range users {
				users[i] = bot.UserKey(fmt.Sprintf("%032x", i))
			}
			var next atomic.Int64
			var failed atomic.Value
			// Updates are handled concurrently and mostly wait on Redis, so
			// run more goroutines than CPUs.
			b.SetParallelism(8)
			b.ResetTimer()
			rt.n.Store(0)
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					id := next.Add(1)
					if err := f.fn(ctx, s, id, users[id%int64(len(users))]); err != nil {
						failed.CompareAndSwap(nil, err)
						return
					}
				}
			})
			b.StopTimer()
			if err, _ := failed.Load().(error); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(rt.n.Load())/float64(b.N), "roundtrips/update")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
		})
	}
}
