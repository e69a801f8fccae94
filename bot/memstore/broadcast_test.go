package memstore_test

import (
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot/bottest/storetest"
	"github.com/lotse-bot/lotse/bot/broadcast"
	"github.com/lotse-bot/lotse/bot/memstore"
)

func TestBroadcastConformance(t *testing.T) {
	storetest.RunBroadcasts(t, func(t *testing.T, now func() time.Time) broadcast.Store {
		return memstore.NewBroadcasts(now)
	})
}
