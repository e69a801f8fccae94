package memstore_test

import (
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot/bottest/storetest"
	"github.com/lotse-bot/lotse/bot/memstore"
	"github.com/lotse-bot/lotse/bot/monitor"
)

func TestMonitorConformance(t *testing.T) {
	storetest.RunMonitor(t, func(t *testing.T, now func() time.Time) monitor.Store {
		return memstore.NewMonitor(now)
	})
}
