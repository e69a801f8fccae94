package main

import (
	"log/slog"
	"time"

	"github.com/lotse-bot/lotse/bot/redisstore"
	"github.com/lotse-bot/lotse/bot/replica"
	"github.com/lotse-bot/lotse/bot/telegram"
)

// sharedCoordination returns what replicas share through Redis besides
// state: the flood limits and, in webhook mode, the per-chat lock. It
// returns nils without REDIS_URL (a single process keeps both itself).
// Its Redis client is separate from the store's, so a slow store
// command never delays a send's rate-limit round trip. obs hears every
// fallback to local limits (lotse_replica_fallbacks_total).
func sharedCoordination(cfg Config, log *slog.Logger, obs replica.Observer) (telegram.Limiter, telegram.ChatLocker, func()) {
	if cfg.RedisURL == "" {
		return nil, nil, func() {}
	}
	rdb, err := redisstore.ParseURL(cfg.RedisURL)
	if err != nil { // openStore already reported it
		return nil, nil, func() {}
	}
	rc := replica.Config{Namespace: cfg.Namespace, Secret: cfg.Secret, Observer: obs}
	lim, err := replica.NewLimiter(rdb, rc)
	if err != nil {
		log.Warn("shared rate limits off", "err", err)
		rdb.Close()
		return nil, nil, func() {}
	}
	var locks telegram.ChatLocker
	if cfg.WebhookURL != "" {
		l, err := replica.NewLocks(rdb, rc)
		if err != nil {
			log.Warn("shared chat locks off", "err", err)
		} else {
			locks = l
		}
	}
	return lim, locks, func() { rdb.Close() }
}

// floodLimits lifts the flood limits from tc when the configuration
// says so (LOTSE_FLOOD_LIMITS=off, for measurements against a fake Bot
// API): no shared limiter, and in-process limits too high to matter.
func floodLimits(cfg Config, tc telegram.Config) telegram.Config {
	if cfg.FloodLimitsOff {
		tc.Limiter = nil
		tc.GlobalRate, tc.PerChat, tc.PerChatBurst = 1e9, time.Nanosecond, 1<<20
		tc.GroupPerMinute, tc.GroupWindow = 1<<20, time.Nanosecond
	}
	return tc
}
