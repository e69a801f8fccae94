package telegram

import (
	"context"
	"errors"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/lotse-bot/lotse/bot"
)

// Observer receives the transport's operational events, for metrics.
// This package defines it so that neither it nor the bot core depends on
// a metrics library; bot/metrics implements it with Prometheus.
// Implementations must be safe for concurrent use and fast: they are
// called inline.
type Observer interface {
	// Update is called once per update after it was dealt with: kind
	// is "text", "callback", ... ("unsupported" for updates Lotse does
	// not act on), outcome one of the Outcome constants, d the time the
	// handler took.
	Update(kind, outcome string, d time.Duration)
	// APICall is called after every attempt of a Bot API call: code is
	// 200 if Telegram accepted it, Telegram's error code (429 for flood
	// control) otherwise, or 0 if no answer arrived.
	APICall(method string, code int)
	// WebhookRequest is called for every request to the webhook with
	// the HTTP status it was answered with.
	WebhookRequest(status int)
}

// Outcomes reported to Observer.Update.
const (
	OutcomeOK          = "ok"          // the handler returned nil
	OutcomeError       = "error"       // the handler failed; not retried
	OutcomeUnavailable = "unavailable" // a dependency was down (bot.ErrUnavailable)
	OutcomeTimeout     = "timeout"     // the handler ran out of time or was cancelled
	OutcomePanic       = "panic"       // the handler panicked
	OutcomeIgnored     = "ignored"     // nothing to do for this update
)

const kindUnsupported = "unsupported"

type nopObserver struct{}

func (nopObserver) Update(string, string, time.Duration) {}
func (nopObserver) APICall(string, int)                  {}
func (nopObserver) WebhookRequest(int)                   {}

func outcomeOf(err error) string {
	switch {
	case err == nil:
		return OutcomeOK
	case errors.Is(err, errPanic):
		return OutcomePanic
	case errors.Is(err, bot.ErrUnavailable):
		return OutcomeUnavailable
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return OutcomeTimeout
	}
	return OutcomeError
}

// kindName names an update kind for logs and metrics.
func kindName(k bot.InKind) string {
	switch k {
	case bot.InText:
		return "text"
	case bot.InCallback:
		return "callback"
	case bot.InLocation:
		return "location"
	case bot.InPhoto:
		return "photo"
	case bot.InDocument:
		return "document"
	case bot.InVoice:
		return "voice"
	case bot.InVideo:
		return "video"
	case bot.InSticker:
		return "sticker"
	case bot.InContact:
		return "contact"
	case bot.InEdited:
		return "edited"
	}
	return "other"
}

// observe records the result of one API call attempt: for the Observer,
// and, if Telegram answered, as the time of the last contact. An API
// error below 500 (a 400, a 429) still proves Telegram is reachable; a
// 5xx or no answer does not.
func (c *Client) observe(method string, err error) {
	code := 200
	if err != nil {
		code = 0
		var te *tgbotapi.Error
		if errors.As(err, &te) {
			code = te.Code
			if code == 0 {
				code = codeFromDescription(te.Message)
			}
		}
	}
	if code != 0 && code < 500 {
		c.lastOK.Store(time.Now().UnixNano())
	}
	c.obs.APICall(method, code)
}

// LastOK is when Telegram last answered a call of this client (zero if
// never): readiness checks use it to tell whether Telegram is reachable.
func (c *Client) LastOK() time.Time {
	n := c.lastOK.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}
