package telegram

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"sync"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/lotse-bot/lotse/bot"
)

// WebhookMaxBody is the largest webhook request body accepted. An update
// is at most a few KiB (texts are limited to 4096 characters); the limit
// only keeps forged requests from costing memory.
const WebhookMaxBody = 1 << 20

// SecretHeader carries the secret_token Telegram sends with every
// webhook request.
const SecretHeader = "X-Telegram-Bot-Api-Secret-Token"

// secretRe is the Bot API's constraint on secret_token.
var secretRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)

// ValidSecret reports whether s is acceptable to Telegram as a webhook
// secret_token: 1-256 characters of A-Z, a-z, 0-9, _ and -.
func ValidSecret(s string) bool { return secretRe.MatchString(s) }

// WebhookConfig says where Telegram delivers updates.
type WebhookConfig struct {
	// URL is the public HTTPS address Telegram posts updates to.
	URL string
	// Secret is sent by Telegram in SecretHeader with every request and
	// checked by the handler (see ValidSecret).
	Secret string
	// MaxConnections is the number of concurrent requests Telegram may
	// make, 1-100 (default 40).
	MaxConnections int
	// DropPending discards updates waiting at Telegram. Lotse never sets
	// it on a normal start: those are users' messages.
	DropPending bool
}

// SetWebhook makes Telegram deliver updates to cfg.URL with
// cfg.Secret, for the client's AllowedUpdates. The library has no
// secret_token field (TELEGRAM.md §1.4), so the call is made by hand.
func (c *Client) SetWebhook(ctx context.Context, cfg WebhookConfig) error {
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("telegram setWebhook: %w: URL must be https://host/path", ErrInvalid)
	}
	if !ValidSecret(cfg.Secret) {
		return fmt.Errorf("telegram setWebhook: %w: secret must be 1-256 characters of A-Z a-z 0-9 _ -", ErrInvalid)
	}
	if cfg.MaxConnections == 0 {
		cfg.MaxConnections = 40
	}
	if cfg.MaxConnections < 1 || cfg.MaxConnections > 100 {
		return fmt.Errorf("telegram setWebhook: %w: max connections %d not in 1..100", ErrInvalid, cfg.MaxConnections)
	}
	allowed, err := json.Marshal(c.cfg.AllowedUpdates)
	if err != nil {
		return fmt.Errorf("telegram setWebhook: %w", err)
	}
	p := tgbotapi.Params{
		"url":             cfg.URL,
		"secret_token":    cfg.Secret,
		"max_connections": strconv.Itoa(cfg.MaxConnections),
		"allowed_updates": string(allowed),
	}
	if cfg.DropPending {
		p["drop_pending_updates"] = "true"
	}
	_, err = c.do(ctx, "setWebhook", nil, func(b *tgbotapi.BotAPI) (*tgbotapi.APIResponse, error) {
		return b.MakeRequest("setWebhook", p)
	})
	return err
}

// DeleteWebhook switches Telegram back to getUpdates. Pending updates
// are kept unless dropPending: they are users' messages that polling
// then picks up.
func (c *Client) DeleteWebhook(ctx context.Context, dropPending bool) error {
	_, err := c.call(ctx, "deleteWebhook", nil, tgbotapi.DeleteWebhookConfig{DropPendingUpdates: dropPending})
	return err
}

// WebhookInfo is what Telegram reports about the webhook.
type WebhookInfo struct {
	// URL is the webhook's address, "" when polling.
	URL string
	// Pending is the number of updates not yet delivered.
	Pending int
	// LastError is Telegram's description of the last failed delivery
	// ("" if none), at LastErrorAt.
	LastError   string
	LastErrorAt time.Time
}

// WebhookInfo asks Telegram about the webhook.
func (c *Client) WebhookInfo(ctx context.Context) (WebhookInfo, error) {
	resp, err := c.do(ctx, "getWebhookInfo", nil, func(b *tgbotapi.BotAPI) (*tgbotapi.APIResponse, error) {
		return b.MakeRequest("getWebhookInfo", nil)
	})
	if err != nil {
		return WebhookInfo{}, err
	}
	var wi tgbotapi.WebhookInfo
	if err := json.Unmarshal(resp.Result, &wi); err != nil {
		return WebhookInfo{}, fmt.Errorf("telegram getWebhookInfo: decode result: %w", err)
	}
	info := WebhookInfo{URL: wi.URL, Pending: wi.PendingUpdateCount, LastError: wi.LastErrorMessage}
	if wi.LastErrorDate > 0 {
		info.LastErrorAt = time.Unix(int64(wi.LastErrorDate), 0)
	}
	return info, nil
}

// Webhook is the HTTP handler Telegram posts updates to. It answers 2xx
// only after the update was handled, so an update in flight when the
// process dies is delivered again (the handler de-duplicates by
// UpdateID). Updates of one chat are handled one at a time, in the
// order they arrive; Telegram bounds the concurrency by MaxConnections.
// With Config.ChatLocker that holds across replicas; the order among
// updates of one chat that Telegram delivers at the same time (to
// different replicas) is the order they get the lock, not necessarily
// their update_id order: that would need a small per-chat buffer that
// holds a later update_id back for a moment.
//
// Answers: 405 for anything but POST, 401 without the right secret
// (compared in constant time; nothing else is looked at), 413 for bodies
// over WebhookMaxBody, 400 for anything that is not an update, 503 if the
// handler reports bot.ErrUnavailable or the chat stays busy for the
// whole HandlerTimeout (Telegram retries later), otherwise 200, also when
// the handler failed for good: a poisonous update must not come back
// forever.
type Webhook struct {
	c      *Client
	h      Handler
	secret []byte
	locks  chatLocks
}

// Webhook returns the handler for updates posted with secret (see
// ValidSecret).
func (c *Client) Webhook(h Handler, secret string) (*Webhook, error) {
	if !ValidSecret(secret) {
		return nil, fmt.Errorf("telegram webhook: %w: secret must be 1-256 characters of A-Z a-z 0-9 _ -", ErrInvalid)
	}
	return &Webhook{c: c, h: h, secret: []byte(secret), locks: chatLocks{m: map[int64]*chatLock{}}}, nil
}

// ServeHTTP implements http.Handler.
func (w *Webhook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	status := w.serve(rw, r)
	w.c.obs.WebhookRequest(status)
	if status != http.StatusOK {
		// Forged requests may come by the thousand: debug only, and
		// never the request's content or origin.
		w.c.log.LogAttrs(r.Context(), slog.LevelDebug, "telegram webhook request refused", slog.Int("status", status))
		http.Error(rw, http.StatusText(status), status)
		return
	}
	rw.WriteHeader(http.StatusOK)
}

func (w *Webhook) serve(rw http.ResponseWriter, r *http.Request) int {
	if r.Method != http.MethodPost {
		rw.Header().Set("Allow", http.MethodPost)
		return http.StatusMethodNotAllowed
	}
	if subtle.ConstantTimeCompare([]byte(r.Header.Get(SecretHeader)), w.secret) != 1 {
		return http.StatusUnauthorized
	}
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, WebhookMaxBody))
	if err != nil {
		if errors.As(err, new(*http.MaxBytesError)) {
			return http.StatusRequestEntityTooLarge
		}
		return http.StatusBadRequest
	}
	var u update // with the forum topic fields (forum.go)
	if err := json.Unmarshal(body, &u); err != nil || u.UpdateID <= 0 {
		return http.StatusBadRequest
	}
	in, ok := convertUpdate(u, w.c.Username())
	if !ok {
		w.c.obs.Update(kindUnsupported, OutcomeIgnored, 0)
		return http.StatusOK
	}

	// The handling outlives the request: if Telegram gives up waiting,
	// the answer still goes out, and the redelivery is a duplicate. The
	// server's shutdown waits for it (bounded by its own timeout).
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), w.c.cfg.HandlerTimeout)
	defer cancel()
	key := in.ChatID
	if key == 0 {
		key = in.UserID
	}
	unlock, err := w.locks.lock(ctx, key)
	if err != nil {
		w.c.obs.Update(kindName(in.Kind), OutcomeTimeout, 0)
		return http.StatusServiceUnavailable
	}
	defer unlock()
	// Across replicas too (Config.ChatLocker); the in-process lock
	// first, so one replica asks the shared lock once per chat at a time.
	unlockShared, err := w.c.lockShared(ctx, key)
	if err != nil {
		w.c.obs.Update(kindName(in.Kind), OutcomeTimeout, 0)
		return http.StatusServiceUnavailable
	}
	defer unlockShared()
	if err := w.c.runHandler(ctx, w.h, in); errors.Is(err, bot.ErrUnavailable) {
		return http.StatusServiceUnavailable
	}
	return http.StatusOK
}

// chatLocks is a mutex per chat, created on demand and dropped when
// nobody holds or waits for it, so memory stays bounded by the number
// of chats in flight.
type chatLocks struct {
	mu sync.Mutex
	m  map[int64]*chatLock
}

type chatLock struct {
	ch   chan struct{} // holds a token while locked
	refs int           // holders and waiters
}

// lock waits until key is free or ctx is done and returns the unlock
// function.
func (l *chatLocks) lock(ctx context.Context, key int64) (func(), error) {
	l.mu.Lock()
	cl := l.m[key]
	if cl == nil {
		cl = &chatLock{ch: make(chan struct{}, 1)}
		l.m[key] = cl
	}
	cl.refs++
	l.mu.Unlock()

	release := func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if cl.refs--; cl.refs == 0 {
			delete(l.m, key)
		}
	}
	select {
	case cl.ch <- struct{}{}:
		return func() { <-cl.ch; release() }, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}

// RunWebhook registers the webhook with Telegram (see SetWebhook) and
// then, until ctx is cancelled, asks Telegram about it every interval
// (default one minute). That keeps LastOK current while no message is
// sent, and logs delivery problems Telegram reports (a wrong secret, an
// unreachable URL, a bad certificate). It does not delete the webhook on
// return: other replicas may still be serving it. It fails only if the
// webhook cannot be set.
func (c *Client) RunWebhook(ctx context.Context, cfg WebhookConfig, interval time.Duration) error {
	if err := c.SetWebhook(ctx, cfg); err != nil {
		if ctx.Err() != nil && !errors.Is(err, ErrInvalid) {
			return nil // shut down while registering: not a failure
		}
		return err
	}
	if interval <= 0 {
		interval = time.Minute
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	var reported time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		info, err := c.WebhookInfo(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			c.log.LogAttrs(ctx, slog.LevelWarn, "telegram getWebhookInfo failed", slog.String("err", err.Error()))
		case info.URL != cfg.URL:
			// Someone switched the bot to polling or elsewhere; fighting
			// over it would flap, so an operator must decide.
			c.log.LogAttrs(ctx, slog.LevelError, "telegram webhook is no longer ours; updates are not delivered here",
				slog.Bool("webhook_set", info.URL != ""))
		case info.LastError != "" && info.LastErrorAt.After(reported):
			reported = info.LastErrorAt
			c.log.LogAttrs(ctx, slog.LevelWarn, "telegram reports a webhook delivery error",
				slog.String("err", c.redact(info.LastError)), slog.Time("at", info.LastErrorAt),
				slog.Int("pending", info.Pending))
		}
	}
}
