package bot

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Buttons that act on a ticket carry an opaque token instead of the
// action and reference: "~" and 16 characters of base64url (12 random
// bytes). The token is looked up in a TokenStore, which holds what the
// button does and whom it is for. A user cannot edit a token into
// another ticket's button, and a token works only for those it is bound
// to: staff buttons in the chat they were posted to (and only for staff
// who may act on the ticket), a requester's buttons only for that
// requester.

// cbToken prefixes token callback data.
const cbToken = "~"

// TokenTTL is how long a button's token works: longer than a ticket
// usually stays open, shorter than it is kept.
const TokenTTL = 30 * 24 * time.Hour

// CallbackToken is what a token stands for.
type CallbackToken struct {
	// Data is the callback data the button means ("sc:K-7F3Q", ...).
	Data string `json:"d"`
	// Chat is the chat the button was posted to, as Bot.linkChat keys it
	// (0: any chat).
	Chat int64 `json:"c,omitempty"`
	// User is the requester the button belongs to ("": staff button).
	User UserKey `json:"u,omitempty"`
}

// TokenStore keeps callback tokens. Implementations are safe for
// concurrent use and let every token expire.
type TokenStore interface {
	// PutTokens stores tokens (token → meaning) for ttl.
	PutTokens(ctx context.Context, tokens map[string]CallbackToken, ttl time.Duration) error
	// CallbackToken returns what token stands for. Returns ErrNotFound
	// for an unknown or expired token.
	CallbackToken(ctx context.Context, token string) (CallbackToken, error)
}

// newToken returns fresh callback data "~" + 16 base64url characters.
func newToken() string {
	var b [12]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return cbToken + base64.RawURLEncoding.EncodeToString(b[:])
}

// isToken reports whether callback data looks like a token.
func isToken(d string) bool {
	if len(d) != 17 || !strings.HasPrefix(d, cbToken) {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(d[1:])
	return err == nil
}

// tokens collects the buttons of one message before they are stored.
type tokens struct {
	b    *Bot
	chat int64   // bound chat (raw id; keyed on storing)
	user UserKey // bound requester
	m    map[string]CallbackToken
}

func (b *Bot) newTokens(chat int64, user UserKey) *tokens {
	return &tokens{b: b, chat: chat, user: user, m: map[string]CallbackToken{}}
}

// button returns a button meaning data. Without a TokenStore the data
// itself is used (tests that wire no tokens).
func (tk *tokens) button(label, data string) Button {
	if tk.b.cfg.Tokens == nil {
		return Button{Text: clip(label, maxButton), Data: data}
	}
	tok := newToken()
	ct := CallbackToken{Data: data, User: tk.user}
	if tk.chat != 0 {
		ct.Chat = tk.b.linkChat(tk.chat)
	}
	tk.m[tok] = ct
	return Button{Text: clip(label, maxButton), Data: tok}
}

// save stores the tokens made so far.
func (tk *tokens) save(ctx context.Context) error {
	if tk.b.cfg.Tokens == nil || len(tk.m) == 0 {
		return nil
	}
	if err := tk.b.cfg.Tokens.PutTokens(ctx, tk.m, TokenTTL); err != nil {
		return fmt.Errorf("store button tokens: %w", err)
	}
	clear(tk.m)
	return nil
}

var errTokenRefused = errors.New("button not bound to this user or chat")

// resolveToken replaces the turn's token callback data by what it stands
// for, after checking the binding. It returns ErrNotFound for an unknown
// or expired token and errTokenRefused for a button pressed by somebody
// it is not for (logged without personal data).
func (t *turn) resolveToken() error {
	ts := t.b.cfg.Tokens
	if ts == nil {
		return ErrNotFound
	}
	ct, err := ts.CallbackToken(t.ctx, t.in.CallbackData)
	if err != nil {
		return err
	}
	switch {
	case ct.User != "" && ct.User != t.b.UserKey(t.in.UserID):
		t.b.log.Warn("ticket button refused", "reason", "other_user", "kind", "callback")
		return errTokenRefused
	case ct.Chat != 0 && ct.Chat != t.b.linkChat(t.in.ChatID):
		t.b.log.Warn("ticket button refused", "reason", "other_chat", "kind", "callback")
		return errTokenRefused
	}
	t.in.CallbackData = ct.Data
	return nil
}

// isTicketData reports whether d is a requester's button bound to one of
// their requests (answer, withdraw); such buttons carry tokens.
func isTicketData(d string) bool {
	return strings.HasPrefix(d, cbReqAnswer) || strings.HasPrefix(d, cbReqWithdraw)
}
