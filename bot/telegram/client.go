// Package telegram is Lotse's Telegram transport: it turns Bot API
// updates into bot.Incoming values (Poll, Convert) and bot.Outgoing
// values into Bot API calls (Client.Send). It is the only package that
// imports go-telegram-bot-api.
//
// It works around the library's known problems (see TELEGRAM.md): no
// context support (every call runs on a per-call copy of the BotAPI
// whose HTTP client carries the caller's context), GetUpdatesChan
// confirming updates before they are handled (Poll replaces it), and
// transport errors that contain the bot token (every error leaving this
// package is redacted).
//
// Texts are always sent as plain text, without parse_mode, so nothing a
// user or curator writes can make Telegram reject a message with "can't
// parse entities".
package telegram

import (
	"context"
	"crypto/hmac"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/lotse-bot/lotse/bot"
)

// Config configures a Client. Zero values mean the defaults noted.
type Config struct {
	// Token is the bot token from @BotFather. It is a secret: it never
	// appears in errors or logs of this package.
	Token string
	// Endpoint is the Bot API URL format with two %s, token then method,
	// e.g. "http://127.0.0.1:8081/bot%s/%s". "" means Telegram's.
	Endpoint string
	// PollTimeout is the long-polling wait of getUpdates, in whole
	// seconds (default 50s). Zero-second short polling is used only if
	// PollTimeout is negative.
	PollTimeout time.Duration
	// HTTPClient is used for all calls. Its Timeout, if set, must exceed
	// PollTimeout. nil: a client with Timeout PollTimeout+15s.
	HTTPClient *http.Client
	// Workers is the number of concurrent update handlers (default 8).
	// Updates of one chat always go to the same worker, in order.
	Workers int
	// Logger receives operational events (default: discard). Nothing
	// logged contains message texts, names, the token or raw ids.
	Logger *slog.Logger

	// GlobalRate is the overall message rate in messages/s (default 30).
	GlobalRate float64
	// PerChat is the interval between messages to one private chat
	// (default 1s), after an initial burst of PerChatBurst (default 3).
	PerChat      time.Duration
	PerChatBurst int
	// GroupPerMinute is the number of messages per GroupWindow (default
	// one minute) allowed in a group (default 20).
	GroupPerMinute int
	GroupWindow    time.Duration

	// MaxAttempts bounds the tries of one API call on 429, 5xx and
	// network errors (default 5).
	MaxAttempts int
	// RetryBase is the first backoff after a 5xx or network error; it
	// doubles per attempt, up to 30s, with jitter (default 500ms).
	RetryBase time.Duration
	// MaxRetryAfter is the longest flood-control wait (429 retry_after)
	// a call sits out; longer waits fail with bot.ErrUnavailable at once
	// (default 60s).
	MaxRetryAfter time.Duration
	// CallTimeout bounds one HTTP attempt of a non-polling call
	// (default 30s).
	CallTimeout time.Duration

	// HandlerTimeout bounds one Handler call (default 2m).
	HandlerTimeout time.Duration
	// ShutdownGrace is how long running handlers may continue after
	// Poll's context is cancelled before their context is cancelled too
	// (default 10s).
	ShutdownGrace time.Duration
	// AllowedUpdates is sent with getUpdates (default: messages, edits,
	// channel posts and callback queries).
	AllowedUpdates []string

	// MaxTextLen is the split size for texts (default MaxText); only
	// tests lower it.
	MaxTextLen int

	// RedeliveryBackoff is the first pause of Poll after a handler asked
	// for an update again (bot.ErrUnavailable); it doubles per failed
	// batch up to 30s (default DefaultRedeliveryBackoff).
	RedeliveryBackoff time.Duration
	// MaxRedeliveries is how often Poll hands one update to the handler
	// before it confirms it anyway (default DefaultMaxRedeliveries).
	MaxRedeliveries int

	// Observer receives metrics events (default: none).
	Observer Observer

	// Limiter, if set, keeps the flood limits together with other
	// replicas (see Limiter); nil: this process keeps them alone.
	// GlobalRate, PerChat, PerChatBurst and the group limits configure
	// the in-process limiter, which is also the fallback.
	Limiter Limiter
	// ChatLocker, if set, keeps updates of one chat from being handled
	// by two replicas at once in webhook mode (see ChatLocker).
	ChatLocker ChatLocker
}

func (c Config) withDefaults() Config {
	if c.Endpoint == "" {
		c.Endpoint = tgbotapi.APIEndpoint
	}
	switch {
	case c.PollTimeout == 0:
		c.PollTimeout = 50 * time.Second
	case c.PollTimeout < 0:
		c.PollTimeout = 0
	}
	if c.Workers <= 0 {
		c.Workers = 8
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.GlobalRate <= 0 {
		c.GlobalRate = 30
	}
	if c.PerChat <= 0 {
		c.PerChat = time.Second
	}
	if c.PerChatBurst <= 0 {
		c.PerChatBurst = 3
	}
	if c.GroupPerMinute <= 0 {
		c.GroupPerMinute = 20
	}
	if c.GroupWindow <= 0 {
		c.GroupWindow = time.Minute
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 5
	}
	if c.RetryBase <= 0 {
		c.RetryBase = 500 * time.Millisecond
	}
	if c.MaxRetryAfter <= 0 {
		c.MaxRetryAfter = time.Minute
	}
	if c.CallTimeout <= 0 {
		c.CallTimeout = 30 * time.Second
	}
	if c.HandlerTimeout <= 0 {
		c.HandlerTimeout = 2 * time.Minute
	}
	if c.ShutdownGrace <= 0 {
		c.ShutdownGrace = 10 * time.Second
	}
	if c.AllowedUpdates == nil {
		c.AllowedUpdates = []string{"message", "edited_message", "channel_post", "edited_channel_post", "callback_query"}
	}
	if c.MaxTextLen <= 0 || c.MaxTextLen > MaxText {
		c.MaxTextLen = MaxText
	}
	if c.Observer == nil {
		c.Observer = nopObserver{}
	}
	return c
}

// Client talks to the Bot API. It is safe for concurrent use.
type Client struct {
	cfg     Config
	api     *tgbotapi.BotAPI // template; every call uses a copy (see call)
	hc      *http.Client
	log     *slog.Logger
	lim     *limiter
	hashKey []byte
	obs     Observer
	lastOK  atomic.Int64 // unix nanoseconds of the last call Telegram answered

	sendMessageURL string // see methodURL

	// sharedDown and lockDown: until when (unix nanoseconds) the shared
	// limiter is bypassed, and the lock warning is not repeated.
	sharedDown, lockDown atomic.Int64
}

var _ bot.Sender = (*Client)(nil)

// ErrInvalid is wrapped by errors about messages Telegram would reject:
// empty or over-long texts, bad buttons, over-long captions.
var ErrInvalid = errors.New("invalid message")

// New checks the token with getMe and returns a Client. Its errors never
// contain the token.
func New(ctx context.Context, cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	if cfg.Token == "" {
		return nil, errors.New("telegram: no token")
	}
	if strings.Count(cfg.Endpoint, "%s") != 2 || strings.Count(cfg.Endpoint, "%") != 2 {
		return nil, errors.New("telegram: endpoint must contain exactly two %s (token, method)")
	}
	hc := cfg.HTTPClient
	if hc == nil {
		// Every worker may send at once, besides the long poll and the
		// outbox dispatcher; with the default of 2 idle connections per
		// host the others would be closed after each call and dialled
		// (on Telegram: TLS handshakes) again.
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = cfg.Workers + 4
		tr.MaxIdleConns = max(tr.MaxIdleConns, tr.MaxIdleConnsPerHost)
		hc = &http.Client{Timeout: cfg.PollTimeout + 15*time.Second, Transport: tr}
	} else if hc.Timeout != 0 && hc.Timeout <= cfg.PollTimeout {
		return nil, fmt.Errorf("telegram: HTTP client timeout %v must exceed poll timeout %v", hc.Timeout, cfg.PollTimeout)
	}
	key := make([]byte, 16)
	if _, err := crand.Read(key); err != nil {
		return nil, fmt.Errorf("telegram: %w", err)
	}
	c := &Client{cfg: cfg, hc: hc, log: cfg.Logger, lim: newLimiter(cfg), hashKey: key, obs: cfg.Observer,
		sendMessageURL: methodURL(cfg.Endpoint, cfg.Token, "sendMessage")}

	// A restart during a Telegram hiccup (5xx, 429, a dropped
	// connection) must not fail start-up: transient errors are retried
	// MaxAttempts times with backoff; a bad token fails at once.
	var api *tgbotapi.BotAPI
	for attempt := 1; ; attempt++ {
		gctx, cancel := context.WithTimeout(ctx, cfg.CallTimeout)
		a, err := tgbotapi.NewBotAPIWithClient(cfg.Token, cfg.Endpoint, ctxDoer{ctx: gctx, hc: hc})
		cancel()
		c.observe("getMe", err)
		if err == nil {
			api = a
			break
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("telegram getMe: %w", ctx.Err())
		}
		f := classify(err)
		e := c.apiError("getMe", err, f)
		if (f != transient && f != flood) || attempt >= cfg.MaxAttempts {
			return nil, e
		}
		wait := e.RetryAfter
		if wait <= 0 || wait > cfg.MaxRetryAfter {
			wait = min(cfg.RetryBase<<(attempt-1), 30*time.Second)
		}
		if err := sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("telegram getMe: %w", err)
		}
	}
	api.Client = hc
	c.api = api
	return c, nil
}

// Username returns the bot's @username, without the "@".
func (c *Client) Username() string { return c.api.Self.UserName }

// ctxDoer gives a request the context the library cannot pass.
type ctxDoer struct {
	ctx context.Context
	hc  *http.Client
}

func (d ctxDoer) Do(req *http.Request) (*http.Response, error) {
	resp, err := d.hc.Do(req.WithContext(d.ctx))
	if err == nil {
		resp.Body = drainOnClose{resp.Body}
	}
	return resp, err
}

// drainOnClose reads what the library left of a response before closing
// it: its JSON decoder stops after the value, before a trailing newline,
// and a connection whose body was not read to the end is not reused.
type drainOnClose struct{ io.ReadCloser }

func (b drainOnClose) Close() error {
	io.Copy(io.Discard, io.LimitReader(b.ReadCloser, 4<<10))
	return b.ReadCloser.Close()
}

// botFor returns a copy of the BotAPI whose requests carry ctx. A copy
// per call keeps concurrent calls from sharing a context.
func (c *Client) botFor(ctx context.Context) *tgbotapi.BotAPI {
	b := *c.api
	b.Client = ctxDoer{ctx: ctx, hc: c.hc}
	return &b
}

// Error is a failed Bot API call. Its text never contains the token.
// It wraps bot.ErrBlocked if the chat cannot be reached, and
// bot.ErrUnavailable if Telegram could not be reached or kept failing
// (the call may succeed later).
type Error struct {
	// Method is the Bot API method, e.g. "sendMessage".
	Method string
	// Code is Telegram's error code (400, 403, 429, 5xx); 0 if no API
	// answer was received.
	Code int
	// Description is Telegram's description, or the redacted transport
	// error.
	Description string
	// RetryAfter is the flood-control wait Telegram asked for, if any.
	RetryAfter time.Duration

	kind error
}

func (e *Error) Error() string {
	s := "telegram " + e.Method
	if e.Code != 0 {
		s += " " + strconv.Itoa(e.Code)
	}
	s += ": " + e.Description
	if e.kind != nil {
		s += " (" + e.kind.Error() + ")"
	}
	return s
}

// Unwrap returns bot.ErrBlocked, bot.ErrUnavailable or nil.
func (e *Error) Unwrap() error { return e.kind }

// failure is how a failed attempt should be treated.
type failure int

const (
	permanent failure = iota // 400 and the like: retrying cannot help
	blocked                  // the chat is gone or blocked us
	flood                    // 429: wait retry_after
	transient                // 5xx, network: back off and retry
	fatal                    // 401/404: the token or endpoint is wrong
)

// classify decides what a failed call means. The library's upload path
// leaves Code at 0 (TELEGRAM.md §1.5), so the description prefix is the
// fallback.
func classify(err error) failure {
	var te *tgbotapi.Error
	if !errors.As(err, &te) {
		return transient // network error, timeout, or a non-JSON (proxy) answer
	}
	if te.RetryAfter > 0 {
		return flood
	}
	code := te.Code
	if code == 0 {
		code = codeFromDescription(te.Message)
	}
	desc := strings.ToLower(te.Message)
	switch {
	case code == 403:
		return blocked
	case code == 400 && (strings.Contains(desc, "chat not found") ||
		strings.Contains(desc, "user is deactivated") ||
		strings.Contains(desc, "peer_id_invalid")):
		return blocked
	case code == 429:
		return flood
	case code >= 500:
		return transient
	case code == 401, code == 404:
		return fatal
	}
	return permanent
}

func codeFromDescription(desc string) int {
	for prefix, code := range map[string]int{
		"Bad Request":           400,
		"Unauthorized":          401,
		"Forbidden":             403,
		"Not Found":             404,
		"Conflict":              409,
		"Too Many Requests":     429,
		"Internal Server Error": 500,
		"Bad Gateway":           502,
		"Service Unavailable":   503,
		"Gateway Timeout":       504,
	} {
		if strings.HasPrefix(desc, prefix) {
			return code
		}
	}
	return 0
}

// apiError turns a library error into an *Error without the token.
func (c *Client) apiError(method string, err error, f failure) *Error {
	e := &Error{Method: method}
	var te *tgbotapi.Error
	if errors.As(err, &te) {
		e.Code = te.Code
		if e.Code == 0 {
			e.Code = codeFromDescription(te.Message)
		}
		e.Description = c.redact(te.Message)
		e.RetryAfter = time.Duration(te.RetryAfter) * time.Second
	} else {
		e.Description = c.redact(err.Error())
	}
	switch f {
	case blocked:
		e.kind = bot.ErrBlocked
	case transient, flood:
		e.kind = bot.ErrUnavailable
	}
	return e
}

// redact removes the token, in every spelling a URL may use, from s.
func (c *Client) redact(s string) string {
	t := c.cfg.Token
	if t == "" {
		return s
	}
	for _, form := range []string{t, url.PathEscape(t), url.QueryEscape(t)} {
		s = strings.ReplaceAll(s, form, "<token>")
	}
	// The bot id before the colon is public, but the secret part alone
	// must not survive either (e.g. in a truncated message).
	if _, secret, ok := strings.Cut(t, ":"); ok && len(secret) >= 8 {
		s = strings.ReplaceAll(s, secret, "<token>")
	}
	return s
}

// ref is a short keyed hash of a chat id for logs: stable within this
// process, so a conversation can be followed, but not reversible.
func (c *Client) ref(id int64) string {
	m := hmac.New(sha256.New, c.hashKey)
	m.Write([]byte(strconv.FormatInt(id, 10)))
	return hex.EncodeToString(m.Sum(nil)[:4])
}

// call runs one API call with limits and retries. limitChat != nil
// applies the flood limits for that chat before every attempt.
func (c *Client) call(ctx context.Context, method string, limitChat *int64, ch tgbotapi.Chattable) (*tgbotapi.APIResponse, error) {
	return c.do(ctx, method, limitChat, func(b *tgbotapi.BotAPI) (*tgbotapi.APIResponse, error) {
		return b.Request(ch)
	})
}

// do runs req, one attempt of an API call, with limits and retries (see
// call). It exists for calls the library has no Chattable for, made with
// MakeRequest.
func (c *Client) do(ctx context.Context, method string, limitChat *int64, req func(*tgbotapi.BotAPI) (*tgbotapi.APIResponse, error)) (*tgbotapi.APIResponse, error) {
	var resp *tgbotapi.APIResponse
	err := c.retry(ctx, method, limitChat, func(actx context.Context) error {
		var err error
		resp, err = req(c.botFor(actx))
		return err
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// retry runs attempt, one try of an API call under a context bounded by
// CallTimeout, with limits and retries (see call). attempt's errors are
// the library's: *tgbotapi.Error for an API error, else a transport or
// decoding error.
func (c *Client) retry(ctx context.Context, method string, limitChat *int64, attempt func(context.Context) error) error {
	for n := 1; ; n++ {
		if limitChat != nil {
			if err := c.waitSlot(ctx, *limitChat); err != nil {
				return fmt.Errorf("telegram %s: %w", method, err)
			}
		}
		actx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
		err := attempt(actx)
		cancel()
		c.observe(method, err)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("telegram %s: %w", method, ctx.Err())
		}
		f := classify(err)
		e := c.apiError(method, err, f)
		var wait time.Duration
		switch f {
		case flood:
			wait = e.RetryAfter
			if wait <= 0 {
				wait = c.backoff(n)
			}
			if wait > c.cfg.MaxRetryAfter {
				return e
			}
		case transient:
			wait = c.backoff(n)
		default:
			return e
		}
		if n >= c.cfg.MaxAttempts {
			return e
		}
		c.log.LogAttrs(ctx, slog.LevelDebug, "telegram retry",
			slog.String("method", method), slog.Int("code", e.Code),
			slog.Int("attempt", n), slog.Duration("wait", wait))
		if err := sleep(ctx, wait); err != nil {
			return fmt.Errorf("telegram %s: %w", method, err)
		}
	}
}

// backoff is exponential with jitter in [d/2, d], capped at 30s.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.cfg.RetryBase
	for i := 1; i < attempt && d < 30*time.Second; i++ {
		d *= 2
	}
	d = min(d, 30*time.Second)
	return d/2 + rand.N(d/2+1)
}

// Send delivers msg (see bot.Sender). Texts longer than MaxText are sent
// as several messages; Buttons go with the last one, ReplyTo with the
// first. It returns the id of the last message sent. If a later part
// fails, the earlier parts have been delivered.
//
// A send that fails with a network error is retried, so in rare cases a
// message can arrive twice; we prefer that to losing an answer.
func (c *Client) Send(ctx context.Context, msg bot.Outgoing) (int, error) {
	payloads := 0
	for _, set := range []bool{msg.Text != "", msg.Venue != nil, msg.Document != nil, msg.File != nil} {
		if set {
			payloads++
		}
	}
	if payloads != 1 {
		return 0, fmt.Errorf("telegram send: %w: need exactly one of text, venue, document, file (got %d)", ErrInvalid, payloads)
	}
	markup, err := keyboard(msg.Buttons)
	if err != nil {
		return 0, err
	}
	var id int
	switch {
	case msg.ThreadID != 0:
		id, err = c.sendInThread(ctx, msg, markup) // forum.go
	case msg.Venue != nil:
		id, err = c.sendVenue(ctx, msg, markup)
	case msg.Document != nil:
		id, err = c.sendDocument(ctx, msg, markup)
	case msg.File != nil:
		id, err = c.sendFile(ctx, msg, markup)
	default:
		id, err = c.sendText(ctx, msg, markup)
	}
	if err != nil {
		c.log.LogAttrs(ctx, slog.LevelWarn, "telegram send failed",
			slog.String("chat", c.ref(msg.ChatID)), slog.String("err", err.Error()))
	}
	return id, err
}

// Parts returns the texts Send would send for text: split to fit, and
// for right-to-left texts with every line that would otherwise be laid
// out left-to-right prefixed by U+200F (see markRTL).
func (c *Client) Parts(text string, rtl bool) []string {
	return parts(text, rtl, c.cfg.MaxTextLen)
}

func parts(text string, rtl bool, max int) []string {
	if !rtl {
		return Split(text, max)
	}
	// One unit is kept free for the mark a part may need when a cut
	// falls inside a line.
	ps := Split(markRTL(text), max-1)
	for i, p := range ps {
		first, _, _ := strings.Cut(p, "\n")
		if needsRLM(first) {
			ps[i] = rlm + p
		}
	}
	return ps
}

func (c *Client) sendText(ctx context.Context, msg bot.Outgoing, markup *tgbotapi.InlineKeyboardMarkup) (int, error) {
	ps := c.Parts(msg.Text, msg.RTL)
	if len(ps) == 0 {
		return 0, fmt.Errorf("telegram sendMessage: %w: text is empty", ErrInvalid)
	}
	var id int
	for i, p := range ps {
		r := textRequest{chatID: msg.ChatID, text: p} // no parse_mode: plain text
		if i == 0 && msg.ReplyTo != 0 {
			r.replyTo = msg.ReplyTo
			r.allowNoReply = true // the quoted message may be gone
		}
		if i == len(ps)-1 {
			r.markup = markup
		}
		var err error
		if id, err = c.sendTextRequest(ctx, r); err != nil {
			return 0, err
		}
	}
	return id, nil
}

// sendTextRequest sends one sendMessage call: on the fast path (see
// fastsend.go), or through the library for a keyboard the fast path
// does not encode.
func (c *Client) sendTextRequest(ctx context.Context, r textRequest) (int, error) {
	const method = "sendMessage"
	body, contentType, ok := r.body()
	if !ok {
		return c.sendChattable(ctx, method, r.chatID, r.message())
	}
	var id int
	var decodeErr error
	chatID := r.chatID
	err := c.retry(ctx, method, &chatID, func(actx context.Context) (err error) {
		id, decodeErr, err = c.postSend(actx, c.sendMessageURL, body, contentType)
		return err
	})
	if err != nil {
		return 0, err
	}
	if decodeErr != nil {
		return 0, fmt.Errorf("telegram %s: decode result: %w", method, decodeErr)
	}
	return id, nil
}

func (c *Client) sendVenue(ctx context.Context, msg bot.Outgoing, markup *tgbotapi.InlineKeyboardMarkup) (int, error) {
	v := msg.Venue
	if v.Lat < -90 || v.Lat > 90 || v.Lon < -180 || v.Lon > 180 || (v.Lat == 0 && v.Lon == 0) {
		return 0, fmt.Errorf("telegram sendVenue: %w: coordinates out of range", ErrInvalid)
	}
	if strings.TrimSpace(v.Title) == "" || strings.TrimSpace(v.Address) == "" {
		return 0, fmt.Errorf("telegram sendVenue: %w: title and address are required", ErrInvalid)
	}
	m := tgbotapi.NewVenue(msg.ChatID, v.Title, v.Address, v.Lat, v.Lon)
	m.ReplyToMessageID = msg.ReplyTo
	m.AllowSendingWithoutReply = msg.ReplyTo != 0
	if markup != nil {
		m.ReplyMarkup = markup
	}
	return c.sendChattable(ctx, "sendVenue", msg.ChatID, m)
}

// maxUpload is the Bot API's limit for files uploaded by bots.
const maxUpload = 50 << 20

func (c *Client) sendDocument(ctx context.Context, msg bot.Outgoing, markup *tgbotapi.InlineKeyboardMarkup) (int, error) {
	d := msg.Document
	if len(d.Content) == 0 || len(d.Content) > maxUpload {
		return 0, fmt.Errorf("telegram sendDocument: %w: document size %d not in 1..%d", ErrInvalid, len(d.Content), maxUpload)
	}
	caption := strings.TrimSpace(d.Caption)
	if msg.RTL && caption != "" {
		caption = markRTL(caption)
	}
	if n := UTF16Len(caption); n > MaxCaption {
		return 0, fmt.Errorf("telegram sendDocument: %w: caption has %d characters (max %d)", ErrInvalid, n, MaxCaption)
	}
	name := strings.TrimSpace(d.Name)
	if name == "" {
		name = "document"
	}
	m := tgbotapi.NewDocument(msg.ChatID, tgbotapi.FileBytes{Name: name, Bytes: d.Content})
	m.Caption = caption
	m.ReplyToMessageID = msg.ReplyTo
	m.AllowSendingWithoutReply = msg.ReplyTo != 0
	if markup != nil {
		m.ReplyMarkup = markup
	}
	return c.sendChattable(ctx, "sendDocument", msg.ChatID, m)
}

// sendFile sends a photo or document Telegram already holds, by its
// file id: relayed between users without Lotse downloading it.
func (c *Client) sendFile(ctx context.Context, msg bot.Outgoing, markup *tgbotapi.InlineKeyboardMarkup) (int, error) {
	f := msg.File
	if strings.TrimSpace(f.FileID) == "" {
		return 0, fmt.Errorf("telegram send file: %w: no file id", ErrInvalid)
	}
	caption := strings.TrimSpace(f.Caption)
	if msg.RTL && caption != "" {
		caption = markRTL(caption)
	}
	caption = Truncate(caption, MaxCaption)
	switch f.Kind {
	case bot.AttachPhoto:
		m := tgbotapi.NewPhoto(msg.ChatID, tgbotapi.FileID(f.FileID))
		m.Caption, m.ReplyToMessageID, m.AllowSendingWithoutReply = caption, msg.ReplyTo, msg.ReplyTo != 0
		if markup != nil {
			m.ReplyMarkup = markup
		}
		return c.sendChattable(ctx, "sendPhoto", msg.ChatID, m)
	case bot.AttachDocument:
		m := tgbotapi.NewDocument(msg.ChatID, tgbotapi.FileID(f.FileID))
		m.Caption, m.ReplyToMessageID, m.AllowSendingWithoutReply = caption, msg.ReplyTo, msg.ReplyTo != 0
		if markup != nil {
			m.ReplyMarkup = markup
		}
		return c.sendChattable(ctx, "sendDocument", msg.ChatID, m)
	}
	return 0, fmt.Errorf("telegram send file: %w: unknown kind %q", ErrInvalid, f.Kind)
}

func (c *Client) sendChattable(ctx context.Context, method string, chatID int64, ch tgbotapi.Chattable) (int, error) {
	resp, err := c.call(ctx, method, &chatID, ch)
	if err != nil {
		return 0, err
	}
	return sentMessageID(method, resp)
}

// sentMessageID reads the id of the message a send created.
func sentMessageID(method string, resp *tgbotapi.APIResponse) (int, error) {
	var sent struct {
		MessageID int `json:"message_id"`
	}
	if err := json.Unmarshal(resp.Result, &sent); err != nil {
		return 0, fmt.Errorf("telegram %s: decode result: %w", method, err)
	}
	return sent.MessageID, nil
}

// MaxCallbackData is the Bot API's limit for callback_data, in bytes.
const MaxCallbackData = 64

// keyboard builds an inline keyboard, refusing buttons Telegram would
// reject: a broken keyboard fails the whole message (BUTTON_DATA_INVALID)
// and the user would get nothing at all.
func keyboard(rows [][]bot.Button) (*tgbotapi.InlineKeyboardMarkup, error) {
	var kb [][]tgbotapi.InlineKeyboardButton
	for r, row := range rows {
		if len(row) == 0 {
			continue
		}
		var out []tgbotapi.InlineKeyboardButton
		for i, b := range row {
			where := func() string { return fmt.Sprintf("button %d.%d", r+1, i+1) } // only for errors
			if strings.TrimSpace(b.Text) == "" {
				return nil, fmt.Errorf("telegram keyboard: %w: %s has no text", ErrInvalid, where())
			}
			switch {
			case b.Data != "" && b.URL != "":
				return nil, fmt.Errorf("telegram keyboard: %w: %s has both data and URL", ErrInvalid, where())
			case b.Data != "":
				if len(b.Data) > MaxCallbackData {
					return nil, fmt.Errorf("telegram keyboard: %w: %s callback data is %d bytes (max %d)", ErrInvalid, where(), len(b.Data), MaxCallbackData)
				}
				out = append(out, tgbotapi.NewInlineKeyboardButtonData(b.Text, b.Data))
			case b.URL != "":
				u, err := url.Parse(b.URL)
				if err != nil || (u.Scheme != "https" && u.Scheme != "http" && u.Scheme != "tg") {
					return nil, fmt.Errorf("telegram keyboard: %w: %s URL is not http(s) or tg", ErrInvalid, where())
				}
				out = append(out, tgbotapi.NewInlineKeyboardButtonURL(b.Text, b.URL))
			default:
				return nil, fmt.Errorf("telegram keyboard: %w: %s has neither data nor URL", ErrInvalid, where())
			}
		}
		kb = append(kb, out)
	}
	if len(kb) == 0 {
		return nil, nil
	}
	return &tgbotapi.InlineKeyboardMarkup{InlineKeyboard: kb}, nil
}

// AnswerCallback acknowledges a button press (see bot.Sender). A notice
// longer than MaxNotice characters is shortened with "…".
func (c *Client) AnswerCallback(ctx context.Context, callbackID, notice string) error {
	if callbackID == "" {
		return fmt.Errorf("telegram answerCallbackQuery: %w: no callback id", ErrInvalid)
	}
	_, err := c.call(ctx, "answerCallbackQuery", nil, tgbotapi.NewCallback(callbackID, Truncate(notice, MaxNotice)))
	return err
}

// Truncate shortens s to at most max UTF-16 units, ending it with "…"
// if anything was cut. It does not cut surrogate pairs or, where it can
// avoid it, grapheme clusters.
func Truncate(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if UTF16Len(s) <= max {
		return s
	}
	if max < 1 {
		return ""
	}
	units, cut := 0, 0
	for i, r := range s {
		if units+runeUnits(r) > max-1 {
			break
		}
		units += runeUnits(r)
		cut = i + utf8.RuneLen(r)
	}
	for j := cut; j > 0; {
		if graphemeBoundary(s, j) {
			cut = j
			break
		}
		_, size := utf8.DecodeLastRuneInString(s[:j])
		j -= size
	}
	return strings.TrimRightFunc(s[:cut], unicode.IsSpace) + "…"
}

// Command is a bot command shown in the client's menu.
type Command struct {
	// Name without the slash: 1-32 of a-z, 0-9, _.
	Name string
	// Description, 1-256 characters.
	Description string
}

var commandRe = regexp.MustCompile(`^[a-z0-9_]{1,32}$`)

// SetCommands publishes the command menu per language: cmds maps an
// IETF language code to its commands, "" to the default menu shown to
// users whose language has none.
func (c *Client) SetCommands(ctx context.Context, cmds map[string][]Command) error {
	langs := make([]string, 0, len(cmds))
	for lang, list := range cmds {
		if len(list) > 100 {
			return fmt.Errorf("telegram setMyCommands: %w: %d commands for %q (max 100)", ErrInvalid, len(list), lang)
		}
		for _, cmd := range list {
			if !commandRe.MatchString(cmd.Name) {
				return fmt.Errorf("telegram setMyCommands: %w: command name %q", ErrInvalid, cmd.Name)
			}
			if n := UTF16Len(cmd.Description); n == 0 || n > 256 || strings.TrimSpace(cmd.Description) == "" {
				return fmt.Errorf("telegram setMyCommands: %w: description of %q has %d characters (1-256)", ErrInvalid, cmd.Name, n)
			}
		}
		langs = append(langs, lang)
	}
	sort.Strings(langs) // "" first: the default menu before the translations
	for _, lang := range langs {
		bc := make([]tgbotapi.BotCommand, len(cmds[lang]))
		for i, cmd := range cmds[lang] {
			bc[i] = tgbotapi.BotCommand{Command: cmd.Name, Description: cmd.Description}
		}
		cfg := tgbotapi.NewSetMyCommands(bc...)
		cfg.LanguageCode = lang
		if _, err := c.call(ctx, "setMyCommands", nil, cfg); err != nil {
			return err
		}
	}
	return nil
}
