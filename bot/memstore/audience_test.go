package memstore_test

import (
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/bottest/storetest"
	"github.com/lotse-bot/lotse/bot/memstore"
)

func TestAudienceConformance(t *testing.T) {
	storetest.RunAudience(t, func(t *testing.T, now func() time.Time) bot.AudienceIndex { return memstore.NewReminders(now) })
}
