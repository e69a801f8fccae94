package bot

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/lotse-bot/lotse/bot/monitor"
	"github.com/lotse-bot/lotse/i18n"
	"github.com/lotse-bot/lotse/knowledge"
)

// Defaults of Config.
const (
	DefaultSessionTTL       = 30 * 24 * time.Hour
	DefaultDedupeTTL        = 24 * time.Hour
	DefaultCentralContactID = "koordinierungsstelle"
	// DefaultClaimWorkingDays and DefaultAnswerWorkingDays: see Config.
	DefaultClaimWorkingDays  = 1
	DefaultAnswerWorkingDays = 3
)

// minSecret is the shortest UserKeySecret accepted: the key must not be
// guessable, or pseudonyms could be reversed by hashing all user ids.
const minSecret = 16

// Config wires a Bot.
type Config struct {
	KB      *knowledge.Live
	Store   Store
	Sender  Sender
	Catalog *i18n.Catalog
	// Now is the clock (time.Now if nil).
	Now func() time.Time
	// UserKeySecret keys the HMAC that turns Telegram user ids into
	// UserKeys; at least 16 bytes. Changing it forgets every session.
	UserKeySecret []byte
	// SessionTTL is how long a session lives without use (default 30 days).
	SessionTTL time.Duration
	// DedupeTTL is how long update ids are remembered (default 24 h,
	// Telegram's own retention of undelivered updates).
	DedupeTTL time.Duration
	// Logger receives one info line per update (kind, outcome, latency)
	// and warnings without personal data (default: discard).
	Logger *slog.Logger
	// CentralContactID is the entry shown for "ask a person" when no
	// staff are configured (default "koordinierungsstelle").
	CentralContactID string
	// Staff, if set, turns "ask a person" into requests routed to staff
	// in Telegram (tickets). Every routing target needs a desk.
	Staff *StaffDirectory
	// Tickets stores the requests; default: Store, if it implements
	// TicketStore. Required with Staff.
	Tickets TicketStore
	// ClaimWorkingDays is how long a request may wait unclaimed before it
	// escalates (default 1); AnswerWorkingDays how long a claimed one may
	// wait for an answer before the assignee is reminded, and as long
	// again before it escalates (default 3).
	ClaimWorkingDays, AnswerWorkingDays int
	// Outbox, if set, queues the messages about tickets (to staff and to
	// requesters) durably; RunOutbox delivers them. Nil: they are sent
	// directly and a failed one waits for the escalation job.
	Outbox Outbox
	// Tokens, if set, stores the opaque tokens of ticket buttons (see
	// token.go). Nil: ticket buttons carry the action and reference.
	Tokens TokenStore
	// ClaimLease is how long a claim on an update keeps redeliveries
	// out while it is handled. With a store that renews claims
	// (ClaimRenewer) it is renewed every third of itself while the
	// handler runs (default DefaultClaimLease) and bounds the wait after
	// a handler died; otherwise it must exceed the time a reply takes,
	// or a slow reply may be sent twice (default UnrenewedClaimLease).
	// Used with stores that implement UpdateClaimer.
	ClaimLease time.Duration
	// Flood limits how many updates one user may send (see FloodLimit;
	// default DefaultFloodLimit).
	Flood FloodLimit
	// Reminders stores event subscriptions ("Remind me", /subscriptions);
	// nil: the reminder buttons are not offered.
	Reminders Reminders
	// WhatsOn lists event dates for /events (remind.WhatsOn, adapted);
	// nil: /events answers that the listing is unavailable.
	WhatsOn WhatsOnFunc
	// Monitor receives the anonymous indicators and serves /report; nil:
	// nothing is counted and /report is unavailable. Recording never
	// delays or fails a reply.
	Monitor monitor.Store
	// ReportThreshold is the smallest count /report shows (default
	// monitor.DefaultThreshold).
	ReportThreshold int
	// BotName is the bot's Telegram username, for the invitation links
	// /invite makes (without it, /invite gives the start command).
	BotName string
	// CalendarURL is the public base URL of the calendar feeds (e.g.
	// "https://lotse.example.org/calendar/"); "" hides the feed link.
	CalendarURL string
	// Broadcasts, if set, lets coordinators send announcements with
	// /broadcast (package broadcast, adapted); nil: /broadcast is
	// unavailable.
	Broadcasts Broadcaster
}

// Bot is Lotse's conversation logic. It is safe for concurrent use: all
// per-user state lives in the Store.
type Bot struct {
	cfg Config
	now func() time.Time
	log *slog.Logger
	// flood is the per-user inbound limit (flood.go).
	flood *floodLimiter
	// paced counts replies queued to wait for their chat (outbox.go).
	paced pacedChats
	// userKeyMACs holds HMAC-SHA256 hashes keyed with UserKeySecret for
	// UserKey, which runs on every update: keying one costs more than
	// the MAC of an id.
	userKeyMACs sync.Pool
	// cards keeps the parts of answer cards that do not change with the
	// time (cardmemo.go).
	cards cardMemo
}

// New checks cfg, fills in defaults and returns a Bot.
func New(cfg Config) (*Bot, error) {
	switch {
	case cfg.KB == nil || cfg.KB.Current() == nil:
		return nil, errors.New("bot: no knowledge base")
	case cfg.Store == nil:
		return nil, errors.New("bot: no store")
	case cfg.Sender == nil:
		return nil, errors.New("bot: no sender")
	case cfg.Catalog == nil:
		return nil, errors.New("bot: no message catalog")
	case len(cfg.UserKeySecret) < minSecret:
		return nil, fmt.Errorf("bot: user key secret must have at least %d bytes", minSecret)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	if cfg.DedupeTTL <= 0 {
		cfg.DedupeTTL = DefaultDedupeTTL
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.CentralContactID == "" {
		cfg.CentralContactID = DefaultCentralContactID
	}
	if cfg.Staff != nil {
		if cfg.Tickets == nil {
			cfg.Tickets, _ = cfg.Store.(TicketStore)
		}
		if cfg.Tickets == nil {
			return nil, errors.New("bot: staff configured but the store keeps no tickets")
		}
		if err := cfg.Staff.Check(cfg.KB.Current()); err != nil {
			return nil, fmt.Errorf("bot: staff configuration: %w", err)
		}
	}
	if cfg.ClaimWorkingDays <= 0 {
		cfg.ClaimWorkingDays = DefaultClaimWorkingDays
	}
	if cfg.AnswerWorkingDays <= 0 {
		cfg.AnswerWorkingDays = DefaultAnswerWorkingDays
	}
	if cfg.ReportThreshold < 1 {
		cfg.ReportThreshold = monitor.DefaultThreshold
	}
	cfg.UserKeySecret = slices.Clone(cfg.UserKeySecret)
	if cfg.ClaimLease <= 0 {
		cfg.ClaimLease = defaultClaimLease(cfg.Store)
	}
	return &Bot{cfg: cfg, now: cfg.Now, log: cfg.Logger, flood: newFloodLimiter(cfg.Flood)}, nil
}

// UserKey returns the pseudonymous store key of a Telegram user id: the
// hex HMAC-SHA256 of the id under the configured secret, cut to 128 bits.
func (b *Bot) UserKey(userID int64) UserKey {
	sum := b.keyedMAC("", userID)
	return UserKey(hex.EncodeToString(sum[:16]))
}

// keyedMAC is the HMAC-SHA256 of prefix and id in decimal under the
// configured secret. The hashes are pooled: every update needs two or
// three of them, and a new HMAC allocates two SHA-256 states.
func (b *Bot) keyedMAC(prefix string, id int64) [sha256.Size]byte {
	m, _ := b.userKeyMACs.Get().(hash.Hash)
	if m == nil {
		m = hmac.New(sha256.New, b.cfg.UserKeySecret)
	} else {
		m.Reset()
	}
	var buf [48]byte
	m.Write(strconv.AppendInt(append(buf[:0], prefix...), id, 10))
	var sum [sha256.Size]byte
	m.Sum(sum[:0])
	b.userKeyMACs.Put(m)
	return sum
}

// Handle processes one update: it drops repeated deliveries, loads the
// user's session, replies and saves the session if it changed — at most
// three store round trips. Callback queries are always answered. Handle
// returns an error only if replies could not be delivered; store
// failures degrade the conversation but never reach the user as errors.
func (b *Bot) Handle(ctx context.Context, in Incoming) (err error) {
	start := time.Now()
	t := &turn{b: b, in: in, kb: b.cfg.KB.Current(), now: b.now(), ctx: ctx}
	defer t.stopHolding() // on every path, panics included
	defer func() {
		if p := recover(); p != nil {
			// A bug must not take the process down for everyone; the
			// panic value may hold user text, so it is not logged.
			t.outcome = "panic"
			err = fmt.Errorf("bot: panic handling %s update", kindName(in.Kind))
			b.log.Error("handler panic", "kind", kindName(in.Kind))
			t.answerCallback()
		}
		b.log.Info("update", "kind", kindName(in.Kind), "outcome", t.outcome,
			"latency_ms", float64(time.Since(start).Microseconds())/1000)
	}()
	defer t.answerCallback() // runs on every path, before the log line
	return t.run()
}

// turn is the work of one update.
type turn struct {
	b   *Bot
	ctx context.Context
	in  Incoming
	kb  *knowledge.KB
	now time.Time

	user      UserKey
	s, orig   Session
	loaded    bool // the session came from the store (not new, not failed)
	storeDown bool // loading the session failed: do not overwrite it
	claimed   bool // the turn holds the update's claim (UpdateClaimer)
	forgotten bool // the user asked to be forgotten: save nothing
	audDue    bool // the audience entry is due (stampAudience)
	lang      string
	askLang   bool // the user's language is unknown: ask for it

	out      []Outgoing
	after    []func() // run after out was sent (runAfter)
	notice   string   // callback notice
	answered bool
	outcome  string

	stopHold func() // stops renewing the update's claim (holdClaim)
	finished bool   // the update is marked done (TurnQueuer.QueueTurn)
	requeue  bool   // an earlier attempt queued the reply (ClaimQueued)
}

func (t *turn) run() error {
	in := t.in
	if in.IsBot {
		t.outcome = "ignored_bot"
		return nil
	}
	switch in.ChatType {
	case ChatPrivate, "":
	case ChatGroup, ChatSupergroup:
		if t.b.staffGroupUpdate(in) {
			return t.staffGroup()
		}
		return t.group()
	default:
		t.outcome = "ignored_chat"
		return nil
	}
	t.user = t.b.UserKey(in.UserID)
	if t.limited() {
		return t.send()
	}
	switch t.begin() {
	case ClaimDone:
		t.outcome = "duplicate"
		return nil
	case ClaimBusy:
		t.outcome = "in_progress"
		return fmt.Errorf("bot: update %d: %w", in.UpdateID, ErrInProgress)
	}
	t.dispatch()
	t.stampAudience()
	if t.in.Kind == InCallback {
		t.answerCallback()
	}
	if err := t.send(); err != nil {
		t.release()
		return err
	}
	if !t.finished { // not already by queueing the reply (outbox.go)
		t.finish()
	}
	t.runAfter()
	if !t.forgotten {
		t.b.recordActive(t.ctx, t.user, t.now)
	}
	return nil
}

// runAfter runs the work queued to follow the user's replies, such as
// handing a stored request to staff.
func (t *turn) runAfter() {
	for _, f := range t.after {
		f()
	}
}

// release forgets the update id after a failed reply, so Telegram's
// redelivery is answered rather than dropped as a duplicate. Parts of the
// reply that did go out may then be sent twice; that is better than none.
func (t *turn) release() {
	if r, ok := t.b.cfg.Store.(UpdateReleaser); ok {
		// The reply often failed because the context ended; the release
		// must still happen. If it fails too, a claim expires with its
		// lease, but a one-phase FirstSeen record drops the redelivery.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(t.ctx), releaseTimeout)
		defer cancel()
		if err := r.ReleaseUpdate(ctx, t.in.UpdateID); err != nil {
			t.warn("release update failed", err)
		}
	}
}

// begin drops repeated deliveries and loads the user's session, in one
// store round trip where the store offers it. It reports ClaimDone for a
// duplicate update and ClaimBusy for one being handled elsewhere (or by
// a handler that died, until its lease expires). Stores without
// UpdateClaimer mark the update done here, before the reply.
func (t *turn) begin() Claim {
	store, ttl := t.b.cfg.Store, t.b.cfg.DedupeTTL
	if c, ok := store.(UpdateClaimer); ok {
		claim, s, err := c.BeginClaim(t.ctx, t.in.UpdateID, t.b.cfg.ClaimLease, t.user)
		switch {
		case err != nil:
			// Answering twice is better than not answering at all.
			t.warn("begin failed", err)
			t.useSession(Session{}, false, true)
			return ClaimNew
		case claim != ClaimNew && claim != ClaimQueued:
			return claim
		}
		t.claimed = true
		t.requeue = claim == ClaimQueued
		t.holdClaim()
		t.useSession(s, !s.Updated.IsZero(), false)
		return ClaimNew
	}
	if sb, ok := store.(SessionBeginner); ok {
		fresh, s, err := sb.Begin(t.ctx, t.in.UpdateID, ttl, t.user)
		switch {
		case err != nil:
			// Answering twice is better than not answering at all.
			t.warn("begin failed", err)
			t.useSession(Session{}, false, true)
		case !fresh:
			return ClaimDone
		default:
			t.useSession(s, !s.Updated.IsZero(), false)
		}
		return ClaimNew
	}
	fresh, err := store.FirstSeen(t.ctx, t.in.UpdateID, ttl)
	if err != nil {
		t.warn("dedupe failed", err)
	} else if !fresh {
		return ClaimDone
	}
	s, err := store.Session(t.ctx, t.user)
	switch {
	case err == nil:
		t.useSession(s, true, false)
	case errors.Is(err, ErrNotFound):
		t.useSession(Session{}, false, false)
	default:
		t.warn("session load failed", err)
		t.useSession(Session{}, false, true)
	}
	return ClaimNew
}

// useSession adopts s as the turn's session and settles the language.
// loaded: s came from the store; down: the store failed, so the stored
// session must not be overwritten.
func (t *turn) useSession(s Session, loaded, down bool) {
	t.loaded, t.storeDown = loaded, down
	t.s, t.orig = s, s
	t.orig.Results = slices.Clone(s.Results)
	if i18n.Supported(s.Lang) {
		t.lang = s.Lang
		return
	}
	if lang, ok := i18n.Match(t.in.LanguageCode); ok {
		t.lang = lang
	} else {
		t.lang = i18n.SourceLanguage
		// Ask once; meanwhile English. A failed store must not make
		// every message a language question.
		t.askLang = !t.storeDown
	}
	t.s.Lang = t.lang
}

func (t *turn) saveSession() {
	s, ok := t.sessionToSave()
	if !ok {
		return
	}
	if err := t.b.cfg.Store.SaveSession(t.ctx, t.user, s, t.b.cfg.SessionTTL); err != nil {
		t.warn("session save failed", err)
	}
}

// sessionToSave returns the session to store at the end of the turn, if
// it is to be stored.
func (t *turn) sessionToSave() (Session, bool) {
	if t.storeDown || t.forgotten {
		return Session{}, false
	}
	// Unchanged sessions are saved at most daily, only to renew their TTL.
	if sameSession(t.s, t.orig) && t.loaded && t.now.Sub(t.orig.Updated) < 24*time.Hour {
		return Session{}, false
	}
	t.s.Updated = t.now
	return t.s, true
}

func sameSession(a, b Session) bool {
	return a.Lang == b.Lang && a.LangChosen == b.LangChosen && a.Role == b.Role &&
		a.NoticeShown == b.NoticeShown && a.State == b.State && a.Entry == b.Entry &&
		a.District == b.District && slices.Equal(a.Results, b.Results) && a.Draft.equal(b.Draft) &&
		a.Audience.Equal(b.Audience)
}

func (t *turn) send() error {
	for i, m := range t.out {
		m.ChatID = t.in.ChatID
		if queued, err := t.sendOrQueue(i, m); queued {
			return nil // the rest waits in the outbox for the chat's slot
		} else if err != nil {
			if errors.Is(err, ErrBlocked) {
				t.outcome += "+blocked"
				// The user left; nothing they were shown counts as seen.
				t.forgotten = true
				return nil
			}
			t.outcome += "+send_failed"
			return fmt.Errorf("bot: send reply: %w", err)
		}
	}
	return nil
}

func (t *turn) answerCallback() {
	if t.in.Kind != InCallback || t.answered || t.in.CallbackID == "" {
		return
	}
	t.answered = true
	if err := t.b.cfg.Sender.AnswerCallback(t.ctx, t.in.CallbackID, t.notice); err != nil {
		// Usually a repeated answer to an old query; nothing to do.
		t.b.log.Debug("answer callback failed", "error_class", errClass(err))
	}
}

// warn logs a store problem without anything that identifies the user.
func (t *turn) warn(msg string, err error) {
	t.b.log.Warn(msg, "kind", kindName(t.in.Kind), "error_class", errClass(err))
}

func errClass(err error) string {
	switch {
	case errors.Is(err, ErrUnavailable):
		return "unavailable"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, ErrBlocked):
		return "blocked"
	case errors.Is(err, ErrNotFound):
		return "not_found"
	}
	return "other"
}

func kindName(k InKind) string {
	switch k {
	case InText:
		return "text"
	case InCallback:
		return "callback"
	case InLocation:
		return "location"
	case InPhoto:
		return "photo"
	case InDocument:
		return "document"
	case InVoice:
		return "voice"
	case InVideo:
		return "video"
	case InSticker:
		return "sticker"
	case InContact:
		return "contact"
	case InEdited:
		return "edited"
	}
	return "other"
}

// group handles group chats: Lotse answers questions only in private
// chats, so that nobody's situation is discussed in front of others.
// Nothing is stored about group members.
func (t *turn) group() error {
	lang, ok := i18n.Match(t.in.LanguageCode)
	if !ok {
		lang = i18n.SourceLanguage
	}
	t.lang = lang
	switch {
	case t.in.Kind == InCallback:
		t.notice = t.T("ButtonOutdatedShort", nil)
		t.outcome = "group_callback"
	case t.in.Command != "" && t.in.Kind == InText:
		// Deduplicated so a redelivery does not repeat the note in front
		// of everybody; no session is loaded or stored for groups.
		if fresh, err := t.b.cfg.Store.FirstSeen(t.ctx, t.in.UpdateID, t.b.cfg.DedupeTTL); err == nil && !fresh {
			t.outcome = "duplicate"
			return nil
		}
		t.outcome = "group_note"
		t.text(t.T("GroupNote", nil), nil)
	default:
		t.outcome = "ignored_group"
		return nil
	}
	t.answerCallback()
	return t.send()
}

// T is the catalog text in the turn's language.
func (t *turn) T(id string, data map[string]any) string {
	return t.b.cfg.Catalog.T(t.lang, id, data)
}

// text queues a text message in the turn's language.
func (t *turn) text(s string, buttons [][]Button) {
	t.out = append(t.out, Outgoing{Text: s, Buttons: buttons, RTL: i18n.IsRTL(t.lang)})
}
