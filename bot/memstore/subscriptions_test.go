package memstore_test

import (
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot/bottest/storetest"
	"github.com/lotse-bot/lotse/bot/memstore"
	"github.com/lotse-bot/lotse/bot/remind"
)

func TestSubscriptionConformance(t *testing.T) {
	storetest.RunSubscriptions(t, func(t *testing.T, now func() time.Time) remind.Store { return memstore.NewReminders(now) })
}

func TestQueueConformance(t *testing.T) {
	storetest.RunQueue(t, func(t *testing.T, now func() time.Time) remind.Queue { return memstore.NewReminders(now) })
}
