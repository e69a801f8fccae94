package remind

import (
	"context"

	"github.com/lotse-bot/lotse/bot"
)

var _ bot.AudienceReader = BotReminders{}

// AudienceOf implements bot.AudienceReader for /mydata, if the audience
// index can tell (ok false otherwise, or if user has no entry).
func (r BotReminders) AudienceOf(ctx context.Context, user bot.UserKey) (bot.AudienceMember, bool, error) {
	if a, ok := r.Audience.(bot.AudienceReader); ok {
		return a.AudienceOf(ctx, user)
	}
	return bot.AudienceMember{}, false, nil
}
