package broadcast

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lotse-bot/lotse/bot"
)

// Errors of broadcasts, besides bot.ErrNotFound, bot.ErrInvalid and
// bot.ErrUnavailable.
var (
	// ErrForbidden: the author is not a coordinator.
	ErrForbidden = errors.New("not a coordinator")
	// ErrState: the broadcast is not in the state the operation needs
	// (confirming twice, cancelling a finished broadcast, ...).
	ErrState = errors.New("wrong broadcast state")
	// ErrUnknown: the audience names a district, topic or event that is
	// not in the knowledge base (Config.KB).
	ErrUnknown = errors.New("not in the knowledge base")
)

// State is where a broadcast is in its life:
//
//	draft → confirmed → sending → done
//	  └─────────┴──────────┴────→ cancelled
//
// Confirmed means the recipient list is being snapshotted; a broadcast
// left confirmed by a crash is snapshotted again by Resume.
type State string

// States of a broadcast.
const (
	Draft     State = "draft"
	Confirmed State = "confirmed"
	Sending   State = "sending"
	Done      State = "done"
	Cancelled State = "cancelled"
)

// Final reports whether nothing more will be sent in state s.
func (s State) Final() bool { return s == Done || s == Cancelled }

// Roles of an Audience.
const (
	RoleAll       = ""
	RoleVolunteer = "volunteer"
	// RoleRefugee selects the users without the volunteer role. Only the
	// audience index tells them apart (subscriptions do not), so it
	// cannot be combined with a topic or an event.
	RoleRefugee = "refugee"
)

// Limits of a broadcast.
const (
	// MaxText is the longest text in UTF-16 units: one Telegram message,
	// so that every recipient gets exactly one message and one per-chat
	// rate-limit slot.
	MaxText = 4096
	// MaxLangs bounds the translations of one broadcast.
	MaxLangs = 16
	// maxField bounds district, topic and event ids.
	maxField = 64
)

// Audience selects recipients. Empty fields do not restrict; the
// Recipients port interprets District, Role, Topic and EventID (e.g.
// subscribers of a district and topic), the engine applies Langs.
type Audience struct {
	District string `json:"d,omitempty"`
	// Role is RoleAll, RoleVolunteer or RoleRefugee.
	Role    string `json:"r,omitempty"`
	Topic   string `json:"t,omitempty"`
	EventID string `json:"e,omitempty"`
	// Langs, if not empty, restricts the broadcast to recipients whose
	// language is one of these (e.g. an announcement for Ukrainian
	// speakers only).
	Langs []string `json:"l,omitempty"`
}

// Tally counts recipients by outcome. Pending are those not (yet)
// delivered, blocked or failed; after a cancellation they stay pending.
type Tally struct {
	Delivered int `json:"delivered"`
	Blocked   int `json:"blocked"`
	Failed    int `json:"failed"`
	Pending   int `json:"pending"`
}

// Total is the number of recipients in the snapshot.
func (t Tally) Total() int { return t.Delivered + t.Blocked + t.Failed + t.Pending }

// Broadcast is an announcement of a coordinator to an audience.
type Broadcast struct {
	ID string `json:"id"`
	// Author is the coordinator's Telegram user id (staff, never a
	// refugee: refugees are only ever recipients).
	Author   int64    `json:"a"`
	Audience Audience `json:"au"`
	// Texts maps a base language code to the text in that language.
	// Recipients without a text in their language get "en", else "de".
	Texts    map[string]string `json:"tx"`
	State    State             `json:"-"`
	Created  time.Time         `json:"c"`
	Started  time.Time         `json:"-"`
	Finished time.Time         `json:"-"`
	Tally    Tally             `json:"-"`
}

var (
	langRe = regexp.MustCompile(`^[a-z]{2,3}$`)
	idRe   = regexp.MustCompile(`^[0-9a-f]{16}$`)
	// fieldRe keeps audience fields to ids: no spaces, braces or
	// separators that could break store keys.
	fieldRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)
)

// ValidID reports whether id has the form NewID gives.
func ValidID(id string) bool { return idRe.MatchString(id) }

// Validate reports an error wrapping bot.ErrInvalid if a is malformed.
func (a Audience) Validate() error {
	for name, v := range map[string]string{"district": a.District, "topic": a.Topic, "event": a.EventID} {
		if v != "" && (len(v) > maxField || !fieldRe.MatchString(v)) {
			return fmt.Errorf("audience: %s %q is not an id: %w", name, v, bot.ErrInvalid)
		}
	}
	switch a.Role {
	case RoleAll, RoleVolunteer:
	case RoleRefugee:
		if a.Topic != "" || a.EventID != "" {
			return fmt.Errorf("audience: refugees cannot be told apart among subscribers of a topic or event: %w", bot.ErrInvalid)
		}
	default:
		return fmt.Errorf("audience: role %q: %w", a.Role, bot.ErrInvalid)
	}
	if len(a.Langs) > MaxLangs {
		return fmt.Errorf("audience: %d languages (max %d): %w", len(a.Langs), MaxLangs, bot.ErrInvalid)
	}
	for _, l := range a.Langs {
		if !langRe.MatchString(l) {
			return fmt.Errorf("audience: language %q: %w", l, bot.ErrInvalid)
		}
	}
	return nil
}

// ValidateTexts checks texts for audience a: every text non-blank, valid
// UTF-8 and one message long; a text for every language a is restricted
// to, or else a fallback (en or de) for everybody. Markup characters are
// fine: texts are sent as plain text, verbatim.
func ValidateTexts(texts map[string]string, a Audience) error {
	if len(texts) == 0 {
		return fmt.Errorf("texts: none: %w", bot.ErrInvalid)
	}
	if len(texts) > MaxLangs {
		return fmt.Errorf("texts: %d languages (max %d): %w", len(texts), MaxLangs, bot.ErrInvalid)
	}
	for lang, s := range texts {
		switch {
		case !langRe.MatchString(lang):
			return fmt.Errorf("texts: language %q: %w", lang, bot.ErrInvalid)
		case !utf8.ValidString(s):
			return fmt.Errorf("texts: %s: not valid UTF-8: %w", lang, bot.ErrInvalid)
		case strings.TrimSpace(s) == "":
			return fmt.Errorf("texts: %s: empty: %w", lang, bot.ErrInvalid)
		case utf16Len(s) > MaxText:
			return fmt.Errorf("texts: %s: %d characters (max %d): %w", lang, utf16Len(s), MaxText, bot.ErrInvalid)
		}
	}
	if len(a.Langs) == 0 {
		if texts["en"] == "" && texts["de"] == "" {
			return fmt.Errorf("texts: need an English or German text for recipients of other languages: %w", bot.ErrInvalid)
		}
		return nil
	}
	for _, l := range a.Langs {
		if TextFor(texts, l) == "" {
			return fmt.Errorf("texts: no text for %s and no English or German fallback: %w", l, bot.ErrInvalid)
		}
	}
	return nil
}

// Validate reports an error wrapping bot.ErrInvalid if b is malformed.
func (b Broadcast) Validate() error {
	switch {
	case !ValidID(b.ID):
		return fmt.Errorf("broadcast: id %q: %w", b.ID, bot.ErrInvalid)
	case b.Author <= 0:
		return fmt.Errorf("broadcast: author must be a user id: %w", bot.ErrInvalid)
	case b.Created.IsZero():
		return fmt.Errorf("broadcast: no creation time: %w", bot.ErrInvalid)
	}
	if err := b.Audience.Validate(); err != nil {
		return fmt.Errorf("broadcast: %w", err)
	}
	if err := ValidateTexts(b.Texts, b.Audience); err != nil {
		return fmt.Errorf("broadcast: %w", err)
	}
	return nil
}

// TextFor returns the text a recipient of language lang gets: the text
// in lang, else English, else German ("" if none applies). English comes
// before German because most recipients who do not find their language
// read English better than German.
func TextFor(texts map[string]string, lang string) string {
	for _, l := range []string{lang, "en", "de"} {
		if s, ok := texts[l]; ok && s != "" {
			return s
		}
	}
	return ""
}

// Wants reports whether a recipient of language lang belongs to a.
func (a Audience) Wants(lang string) bool {
	return len(a.Langs) == 0 || slices.Contains(a.Langs, lang)
}

// rtlLangs are the base languages written right to left.
var rtlLangs = map[string]bool{"ar": true, "fa": true, "he": true, "ur": true, "ps": true, "ckb": true}

// textLang returns the language of the text TextFor picks.
func textLang(texts map[string]string, lang string) string {
	for _, l := range []string{lang, "en", "de"} {
		if texts[l] != "" {
			return l
		}
	}
	return ""
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// Recipient is one chat a broadcast goes to.
type Recipient struct {
	ChatID int64
	// Lang is the recipient's base language code ("" if unknown).
	Lang string
}

// Outcome is what became of one recipient.
type Outcome int

// Outcomes of a delivery.
const (
	Delivered Outcome = iota + 1
	Blocked           // the user blocked the bot or the chat is gone
	Failed            // Telegram refused the message, or it kept failing
)
