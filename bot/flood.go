package bot

import (
	"sync"
	"time"

	"github.com/lotse-bot/lotse/i18n"
)

// FloodLimit is the per-user inbound limit: a token bucket of Burst
// updates, refilled by one every Every. Updates beyond it are dropped
// before any store round trip, so one user sending a hundred messages a
// second neither loads the store nor queues a hundred answers behind
// Telegram's one-message-per-second limit for their chat, which would
// hold up everybody whose updates arrived in the same batch.
//
// A dropped message gets no answer, except one short notice when the
// user first runs over the limit; the next notice comes only after the
// bucket has filled up again (the user calmed down). A dropped button
// press is still acknowledged. Staff are exempt.
//
// The state is per replica, in memory: several replicas each allow the
// burst, which is still bounded, and a restart forgets it.
type FloodLimit struct {
	// Burst is how many updates a user may send at once (default 5).
	Burst int
	// Every is how long one more update takes to be allowed (default 2 s).
	Every time.Duration
	// MaxUsers bounds the users tracked at once (default 100,000); beyond
	// it new users are not limited until idle ones are swept out.
	MaxUsers int
	// Off disables the limit.
	Off bool
}

// DefaultFloodLimit is the limit used for the zero FloodLimit fields.
var DefaultFloodLimit = FloodLimit{Burst: 5, Every: 2 * time.Second, MaxUsers: 100_000}

// floodSweepEvery is how often buckets that have filled up again (and so
// equal a new bucket) are dropped.
const floodSweepEvery = time.Minute

// floodLimiter keeps one bucket per user key (the pseudonymous UserKey,
// never a raw id).
type floodLimiter struct {
	cfg       FloodLimit
	mu        sync.Mutex
	buckets   map[UserKey]*floodBucket
	lastSweep time.Time
}

type floodBucket struct {
	tokens   float64
	last     time.Time
	notified bool // the notice of this limited period was sent
}

func newFloodLimiter(cfg FloodLimit) *floodLimiter {
	if cfg.Burst <= 0 {
		cfg.Burst = DefaultFloodLimit.Burst
	}
	if cfg.Every <= 0 {
		cfg.Every = DefaultFloodLimit.Every
	}
	if cfg.MaxUsers <= 0 {
		cfg.MaxUsers = DefaultFloodLimit.MaxUsers
	}
	return &floodLimiter{cfg: cfg, buckets: map[UserKey]*floodBucket{}}
}

// allow takes one token of user's bucket. If there is none, it reports
// ok == false, and notify == true for the first refusal since the bucket
// was last full.
func (l *floodLimiter) allow(user UserKey, now time.Time) (ok, notify bool) {
	if l.cfg.Off {
		return true, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[user]
	if b == nil {
		if len(l.buckets) >= l.cfg.MaxUsers || now.Sub(l.lastSweep) >= floodSweepEvery {
			l.sweepLocked(now)
		}
		if len(l.buckets) >= l.cfg.MaxUsers {
			// Tracking everybody would make memory unbounded; an untracked
			// user is served (failing open is kinder than failing closed).
			return true, false
		}
		b = &floodBucket{tokens: float64(l.cfg.Burst), last: now}
		l.buckets[user] = b
	}
	l.refill(b, now)
	if b.tokens >= float64(l.cfg.Burst) {
		b.notified = false // a new limited period may start
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, false
	}
	notify = !b.notified
	b.notified = true
	return false, notify
}

func (l *floodLimiter) refill(b *floodBucket, now time.Time) {
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(float64(l.cfg.Burst), b.tokens+float64(d)/float64(l.cfg.Every))
		b.last = now
	}
}

// sweepLocked drops buckets that have filled up again: they behave like
// new ones.
func (l *floodLimiter) sweepLocked(now time.Time) {
	l.lastSweep = now
	for k, b := range l.buckets {
		l.refill(b, now)
		if b.tokens >= float64(l.cfg.Burst) {
			delete(l.buckets, k)
		}
	}
}

// limited applies the inbound limit to the turn's user. It reports true
// if the update is to be dropped; then the turn holds at most the notice
// (a message, or the popup of a button press) and nothing is stored.
func (t *turn) limited() bool {
	if staff := t.b.cfg.Staff; staff != nil && staff.IsStaff(t.in.UserID) {
		return false
	}
	ok, notify := t.b.flood.allow(t.user, t.now)
	if ok {
		return false
	}
	t.outcome = "flood_dropped"
	if !notify {
		return true
	}
	// No session is loaded for a dropped update: the language comes
	// from the Telegram client.
	if lang, ok := i18n.Match(t.in.LanguageCode); ok {
		t.lang = lang
	} else {
		t.lang = i18n.SourceLanguage
	}
	t.outcome = "flood_notice"
	if t.in.Kind == InCallback {
		t.notice = t.T("FloodNotice", nil)
	} else {
		t.text(t.T("FloodNotice", nil), nil)
	}
	return true
}
