package bot

import "time"

// Telegram's flood limits for outgoing messages (Bots FAQ): about 30
// messages per second overall, one per second in a private chat (short
// bursts tolerated), 20 per minute in a group. They are the defaults of
// both limiters that keep them, the transport's in-process one
// (bot/telegram) and the one replicas share through Redis (bot/replica),
// which must agree: the transport falls back from the shared limiter to
// its own when Redis does not answer.
const (
	// TelegramGlobalRate is the overall rate in messages per second.
	TelegramGlobalRate = 30
	// TelegramPerChat is the interval between messages to one private
	// chat, after a burst of TelegramPerChatBurst.
	TelegramPerChat      = time.Second
	TelegramPerChatBurst = 3
	// TelegramGroupPerMinute messages per TelegramGroupWindow in a group.
	TelegramGroupPerMinute = 20
	TelegramGroupWindow    = time.Minute

	// TelegramLimitHeadroom stretches the per-chat interval and the group
	// window (the shared limiter also the global spacing): our clock
	// starts when a message leaves or its slot is reserved, Telegram's
	// when it arrives, and network jitter between the two must not turn
	// an exact spacing into a 429. A tenth of the interval (100 ms per
	// private chat) covers loopback and ordinary internet jitter at a
	// negligible cost in latency.
	TelegramLimitHeadroom = 1.1
)
