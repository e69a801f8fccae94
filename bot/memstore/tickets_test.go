package memstore_test

import (
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/bottest/storetest"
	"github.com/lotse-bot/lotse/bot/memstore"
)

func TestTicketConformance(t *testing.T) {
	storetest.RunTickets(t, func(t *testing.T, now func() time.Time) bot.TicketStore {
		return memstore.New(now)
	})
}
