package redisstore_test

import (
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/bottest"
	"github.com/lotse-bot/lotse/bot/bottest/storetest"
	"github.com/lotse-bot/lotse/bot/redisstore"
)

func TestOutboxConformance(t *testing.T) {
	storetest.RunOutbox(t, func(t *testing.T) bot.Outbox {
		s, rdb, ns := mustTicketStore(t, time.Now)
		return dumping{aging{Store: s, t: t, rdb: rdb, ns: ns}}
	})
}

// TestOutboxClusterConformance runs the outbox suite on a Redis Cluster:
// every script touches several keys, which must share the {ob} tag.
func TestOutboxClusterConformance(t *testing.T) {
	storetest.RunOutbox(t, func(t *testing.T) bot.Outbox {
		rdb := bottest.Cluster(t)
		ns := bottest.Namespace(t, rdb)
		s := redisstore.New(rdb, redisstore.Options{Namespace: ns, Now: time.Now})
		return dumping{aging{Store: s, t: t, rdb: rdb, ns: ns}}
	})
}
