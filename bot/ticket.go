package bot

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Errors of tickets.
var (
	// ErrInvalidTransition: the event is not allowed in the ticket's state
	// (claiming a closed ticket, closing twice, a requester claiming, ...).
	ErrInvalidTransition = errors.New("invalid ticket transition")
	// ErrInvalid: a ticket or argument breaks a documented limit or is
	// incomplete. It is a bug or bad input, never worth retrying.
	ErrInvalid = errors.New("invalid input")
)

// Limits of a ticket. They bound what one user can make the store hold and
// what a staff chat has to show.
const (
	// MaxTicketText is the longest request text in characters (runes); a
	// Telegram message holds 4096.
	MaxTicketText = 4096
	// MaxAttachments is the most photos/documents one ticket carries.
	MaxAttachments = 10
	// MaxHistory is the most events kept; beyond it the oldest events after
	// "created" are dropped, so a long conversation cannot grow a ticket
	// without bound.
	MaxHistory = 200
	// MaxNote is the longest event note (outcome category, reason).
	MaxNote = 200
	// maxName bounds RequesterName (Telegram first names are ≤ 64).
	maxName = 64
	// maxField bounds short fields: Lang, District, Topic, Assignee,
	// attachment kind, staff ids.
	maxField = 64
	// maxFileID bounds an attachment's Telegram file id.
	maxFileID = 256
)

// Retention of tickets.
const (
	// DefaultTicketTTL is how long a ticket lives after its last change.
	DefaultTicketTTL = 180 * 24 * time.Hour
	// ClosedRetention is how long a closed or cancelled ticket keeps its
	// personal content; the retention job passes now-ClosedRetention to
	// TicketStore.PurgeClosed.
	ClosedRetention = 90 * 24 * time.Hour
	// MaxAbsence is the longest absence SetAbsent accepts; longer ones are
	// a configuration matter, not a command.
	MaxAbsence = 366 * 24 * time.Hour
)

// TicketState is where a ticket is in its life:
//
//	open ──claim──▶ claimed ──answer──▶ answered ──close──▶ closed
//	  ▲                ▲                   │
//	  │                └──requester reply──┘
//	  └── hand over / release (from claimed or answered)
//
// and from any non-final state: cancel ▶ cancelled, close ▶ closed.
type TicketState string

// Ticket states.
const (
	TicketOpen      TicketState = "open"
	TicketClaimed   TicketState = "claimed"
	TicketAnswered  TicketState = "answered"
	TicketClosed    TicketState = "closed"
	TicketCancelled TicketState = "cancelled"
)

// Final reports whether nothing more happens to a ticket in state s.
func (s TicketState) Final() bool { return s == TicketClosed || s == TicketCancelled }

// AwaitsStaff reports whether staff owe the next step: nobody has claimed
// it yet, or the claimer has not answered yet. Only such tickets are due.
func (s TicketState) AwaitsStaff() bool { return s == TicketOpen || s == TicketClaimed }

func (s TicketState) valid() bool {
	switch s {
	case TicketOpen, TicketClaimed, TicketAnswered, TicketClosed, TicketCancelled:
		return true
	}
	return false
}

// EventKind names what happened to a ticket.
type EventKind string

// Event kinds; see Ticket.Apply for when each is allowed.
const (
	EventCreated    EventKind = "created"
	EventClaimed    EventKind = "claimed"
	EventAnswered   EventKind = "answered"    // staff sent an answer
	EventReply      EventKind = "reply"       // the requester wrote again
	EventHandedOver EventKind = "handed_over" // to another person or office
	EventReleased   EventKind = "released"    // claimer gone; back to the queue
	EventReminded   EventKind = "reminded"    // claimer reminded to answer
	EventEscalated  EventKind = "escalated"
	EventClosed     EventKind = "closed"
	EventCancelled  EventKind = "cancelled"
	EventRedacted   EventKind = "redacted" // personal content removed
	// EventMoved: the assignee's desk moved to another chat (a reloaded
	// staff file); assignee, state and claim stay (requeue.go).
	EventMoved EventKind = "moved"
)

// Actor says who caused an event: ActorRequester, ActorSystem or a staff
// member (StaffActor). Staff ids are Telegram user ids of municipal staff,
// who act in their role; refugees' ids never appear here.
type Actor string

// Actors other than staff.
const (
	ActorRequester Actor = "requester"
	ActorSystem    Actor = "system"
)

const staffPrefix = "staff:"

// StaffActor is the actor for the staff member with Telegram user id id.
func StaffActor(id int64) Actor { return Actor(staffPrefix + strconv.FormatInt(id, 10)) }

// StaffID returns the staff member's Telegram user id, if a is a staff actor.
func (a Actor) StaffID() (int64, bool) {
	s, ok := strings.CutPrefix(string(a), staffPrefix)
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id == 0 || strconv.FormatInt(id, 10) != s {
		return 0, false
	}
	return id, true
}

func (a Actor) valid() bool {
	_, staff := a.StaffID()
	return staff || a == ActorRequester || a == ActorSystem
}

// Attachment is a photo or document of a ticket, by Telegram file id, so
// Lotse relays it without downloading it.
type Attachment struct {
	// Kind is "photo", "document", ... (what the transport sends it as).
	Kind string `json:"k"`
	// FileID is Telegram's file id.
	FileID string `json:"f"`
}

// TicketEvent is one entry of a ticket's history. It never holds message
// texts: the history outlives the redaction of personal content.
type TicketEvent struct {
	At    time.Time `json:"at"`
	Kind  EventKind `json:"k"`
	Actor Actor     `json:"a"`
	// Assignee and AssigneeChat are the new assignee (person entry id) and
	// the chat where they receive requests, for EventHandedOver.
	Assignee     string `json:"to,omitempty"`
	AssigneeChat int64  `json:"toc,omitempty"`
	// Note is the outcome category of EventClosed or a short machine
	// reason ("retention", "forget", "absent"); at most MaxNote runes.
	Note string `json:"n,omitempty"`
}

// Ticket is a request handed to a person. Fields marked personal are
// removed by redaction (TicketStore.RedactTickets, PurgeClosed); the
// others are anonymous and kept for monitoring until the ticket expires.
type Ticket struct {
	// Ref is the short reference people read out ("K-7F3Q"), assigned by
	// TicketStore.CreateTicket.
	Ref string `json:"ref"`
	// Requester is the pseudonymous key of the asking user. Personal.
	Requester UserKey `json:"u,omitempty"`
	// RequesterChat is where answers are relayed to. Personal.
	RequesterChat int64 `json:"uc,omitempty"`
	// RequesterName is the first name shown to staff, "" unless needed.
	// Personal.
	RequesterName string `json:"un,omitempty"`
	// ShareIdentity is true if the requester agreed to staff seeing who
	// they are (e.g. their Telegram profile).
	ShareIdentity bool `json:"share,omitempty"`
	// Lang, District and Topic: the request's language (base code),
	// district id and field of action (topic id).
	Lang     string `json:"l,omitempty"`
	District string `json:"d,omitempty"`
	Topic    string `json:"tp,omitempty"`
	// Volunteer is true for requests from volunteers.
	Volunteer bool `json:"vol,omitempty"`
	// Text is the request as the user wrote it. Personal.
	Text string `json:"x,omitempty"`
	// Attachments are relayed photos and documents. Personal.
	Attachments []Attachment `json:"att,omitempty"`
	// Assignee is the responsible person's entry id; AssigneeChat is the
	// chat where they receive requests.
	Assignee     string `json:"as"`
	AssigneeChat int64  `json:"asc"`
	// State is the ticket's state; ClaimedBy the Telegram user id of the
	// staff member who claimed it (0 if unclaimed).
	State     TicketState `json:"st"`
	ClaimedBy int64       `json:"cb,omitempty"`
	// Created and Updated are set by Apply; Due is set by the caller (it
	// needs the working-hours calendar) and is when the ticket escalates
	// if it still awaits staff. Zero Due: never due.
	Created time.Time `json:"c"`
	Updated time.Time `json:"up"`
	Due     time.Time `json:"due,omitzero"`
	// Escalations counts escalation events.
	Escalations int `json:"esc,omitempty"`
	// Redacted is true once personal content was removed.
	Redacted bool `json:"red,omitempty"`
	// History lists what happened, oldest first (see MaxHistory).
	History []TicketEvent `json:"h"`
	// Topics are the forum topics opened for the ticket, one per desk
	// chat that is a forum (forum.go); at most MaxTopics, oldest dropped.
	Topics []ForumTopic `json:"ft,omitempty"`
}

// TicketStore keeps tickets. Implementations are safe for concurrent use,
// every record they write expires (DefaultTicketTTL after the ticket's
// last change unless configured otherwise), and refs are accepted in any
// form ParseRef understands.
type TicketStore interface {
	// CreateTicket stores t under a fresh, unique Ref and returns it as
	// stored. t must be complete (see Ticket.Validate) and in state open;
	// its Ref is ignored. The ticket is stored durably when CreateTicket
	// returns without error (Redis: the write is acknowledged), so the
	// caller may tell the user "sent". Returns ErrInvalid for an invalid t.
	CreateTicket(ctx context.Context, t Ticket) (Ticket, error)
	// Ticket returns the ticket ref. Returns ErrNotFound if there is none
	// (or ref is not a reference at all).
	Ticket(ctx context.Context, ref string) (Ticket, error)
	// UpdateTicket atomically reads ticket ref, calls fn on a copy and
	// stores the result, retrying fn on concurrent changes (so fn must
	// have no effect other than on its argument). If fn leaves the ticket
	// unchanged nothing is written. If fn fails, UpdateTicket returns the
	// current ticket and fn's error (wrapped), so a losing claimer can be
	// told who won. Ref cannot be changed. Returns ErrNotFound if there is
	// no such ticket, ErrInvalid if fn's result is invalid, ErrUnavailable
	// under lasting contention.
	UpdateTicket(ctx context.Context, ref string, fn func(*Ticket) error) (Ticket, error)
	// OpenTicketsOf returns user's tickets that are not final, oldest
	// first. No tickets is not an error.
	OpenTicketsOf(ctx context.Context, user UserKey) ([]Ticket, error)
	// AssignedTickets returns the non-final tickets whose Assignee is
	// assignee, oldest first: a staff member's queue, and what returns to
	// the queue when a person leaves the configuration.
	AssignedTickets(ctx context.Context, assignee string) ([]Ticket, error)
	// LinkMessage records that message messageID in chat chatID belongs to
	// ticket ref, so replies to it find the ticket. The link expires with
	// the ticket's TTL. Returns ErrNotFound if the ticket does not exist or
	// was redacted.
	LinkMessage(ctx context.Context, chatID int64, messageID int, ref string) error
	// TicketForMessage returns the ref linked to the message. Returns
	// ErrNotFound if the message is not linked.
	TicketForMessage(ctx context.Context, chatID int64, messageID int) (string, error)
	// DueTickets returns up to limit refs of tickets awaiting staff whose
	// Due is at or before now, earliest first. The caller re-reads each
	// ticket and moves its Due (or its state) when it acts.
	DueTickets(ctx context.Context, now time.Time, limit int) ([]string, error)
	// SetAbsent marks staff member staffID (person entry id) absent until
	// until; a zero or past until ends the absence. Returns ErrInvalid for
	// an absence longer than MaxAbsence or a malformed id.
	SetAbsent(ctx context.Context, staffID string, until time.Time) error
	// Absent reports whether staffID is absent at now.
	Absent(ctx context.Context, staffID string, now time.Time) (bool, error)
	// RedactTickets removes the personal content of all of user's tickets
	// (see Ticket.Apply with EventRedacted), cancels the non-final ones
	// and deletes their message links. It returns how many tickets it
	// redacted; none is not an error. Store.Forget calls it.
	RedactTickets(ctx context.Context, user UserKey) (int, error)
	// PurgeClosed redacts closed and cancelled tickets last changed before
	// olderThan and returns how many.
	PurgeClosed(ctx context.Context, olderThan time.Time) (int, error)
}

// Apply records ev in the ticket's history and performs its transition.
// It returns an error wrapping ErrInvalidTransition if ev is not allowed
// in the ticket's state or by ev.Actor, and ErrInvalid if ev is malformed;
// the ticket is unchanged then. Apply does not set Due: the caller does,
// with the working-hours calendar.
//
//	created      ""                         → open       requester
//	claimed      open                       → claimed    staff
//	answered     claimed, answered          → answered   staff
//	reply        open, claimed              → same       requester
//	             answered                   → claimed
//	handed_over  open, claimed, answered    → open       staff, system
//	released     claimed, answered          → open       staff, system
//	reminded     claimed                    → claimed    staff, system
//	escalated    open, claimed              → same       staff, system
//	closed       open, claimed, answered    → closed     staff
//	cancelled    open, claimed, answered    → cancelled  requester, system
//	redacted     any but redacted           → final      requester, system
//	moved        open, claimed, answered    → same       system
func (t *Ticket) Apply(ev TicketEvent) error {
	if err := ev.validate(); err != nil {
		return err
	}
	staffID, isStaff := ev.Actor.StaffID()
	isRequester := ev.Actor == ActorRequester
	bad := func() error {
		return fmt.Errorf("%s by %s in state %q: %w", ev.Kind, actorKind(ev.Actor), t.State, ErrInvalidTransition)
	}
	in := func(states ...TicketState) bool {
		for _, s := range states {
			if t.State == s {
				return true
			}
		}
		return false
	}
	nonFinal := in(TicketOpen, TicketClaimed, TicketAnswered)
	if t.Redacted && ev.Kind != EventRedacted {
		return bad()
	}

	next := t.State
	switch ev.Kind {
	case EventCreated:
		if t.State != "" || !isRequester {
			return bad()
		}
		next = TicketOpen
		t.Created = ev.At
	case EventClaimed:
		if !in(TicketOpen) || !isStaff {
			return bad()
		}
		next, t.ClaimedBy = TicketClaimed, staffID
	case EventAnswered:
		if !in(TicketClaimed, TicketAnswered) || !isStaff {
			return bad()
		}
		next = TicketAnswered
	case EventReply:
		if !in(TicketOpen, TicketClaimed, TicketAnswered) || !isRequester {
			return bad()
		}
		if t.State == TicketAnswered {
			next = TicketClaimed
		}
	case EventHandedOver:
		if !nonFinal || isRequester {
			return bad()
		}
		if ev.Assignee == "" || ev.AssigneeChat == 0 {
			return fmt.Errorf("handed_over without assignee: %w", ErrInvalid)
		}
		next, t.ClaimedBy = TicketOpen, 0
		t.Assignee, t.AssigneeChat = ev.Assignee, ev.AssigneeChat
	case EventReleased:
		if !in(TicketClaimed, TicketAnswered) || isRequester {
			return bad()
		}
		next, t.ClaimedBy = TicketOpen, 0
	case EventReminded:
		if !in(TicketClaimed) || isRequester {
			return bad()
		}
	case EventEscalated:
		if !in(TicketOpen, TicketClaimed) || isRequester {
			return bad()
		}
		t.Escalations++
	case EventClosed:
		if !nonFinal || !isStaff {
			return bad()
		}
		next = TicketClosed
	case EventCancelled:
		if !nonFinal || isStaff {
			return bad()
		}
		next = TicketCancelled
	case EventMoved:
		if !nonFinal || ev.Actor != ActorSystem {
			return bad()
		}
		if ev.AssigneeChat == 0 || ev.Assignee != "" && ev.Assignee != t.Assignee {
			return fmt.Errorf("moved without the assignee's new chat: %w", ErrInvalid)
		}
		t.AssigneeChat = ev.AssigneeChat
	case EventRedacted:
		if t.Redacted || t.State == "" || isStaff {
			return bad()
		}
		if nonFinal {
			// The requester withdrew (forget) or the ticket is abandoned;
			// nobody can answer a ticket without a text and a chat.
			next = TicketCancelled
		}
		t.Redacted = true
		t.Requester, t.RequesterChat, t.RequesterName = "", 0, ""
		t.ShareIdentity = false
		t.Text, t.Attachments = "", nil
	default:
		return fmt.Errorf("unknown event kind %q: %w", ev.Kind, ErrInvalid)
	}
	t.State = next
	t.Updated = ev.At
	t.History = append(t.History, ev)
	if n := len(t.History); n > MaxHistory {
		// Keep "created", drop the oldest of the rest.
		t.History = append(t.History[:1], t.History[n-MaxHistory+1:]...)
	}
	return nil
}

func actorKind(a Actor) string {
	if _, ok := a.StaffID(); ok {
		return "staff"
	}
	return string(a)
}

func (ev TicketEvent) validate() error {
	switch {
	case ev.At.IsZero():
		return fmt.Errorf("event %s without time: %w", ev.Kind, ErrInvalid)
	case !ev.Actor.valid():
		return fmt.Errorf("event %s: unknown actor: %w", ev.Kind, ErrInvalid)
	case !shortText(ev.Note, MaxNote):
		return fmt.Errorf("event %s: note too long or not UTF-8: %w", ev.Kind, ErrInvalid)
	case !shortText(ev.Assignee, maxField):
		return fmt.Errorf("event %s: assignee too long: %w", ev.Kind, ErrInvalid)
	}
	return nil
}

// AwaitsStaff reports whether staff owe the next step (see
// TicketState.AwaitsStaff).
func (t *Ticket) AwaitsStaff() bool { return !t.Redacted && t.State.AwaitsStaff() }

// Overdue reports whether t awaits staff and its Due has passed at now.
func (t *Ticket) Overdue(now time.Time) bool {
	return t.AwaitsStaff() && !t.Due.IsZero() && !now.Before(t.Due)
}

// Validate checks that t is complete and within the limits. Stores call it
// before every write, so no code path can store an oversized ticket.
func (t *Ticket) Validate() error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if t.Ref != "" {
		if r, ok := ParseRef(t.Ref); !ok || r != t.Ref {
			add("ref is not canonical")
		}
	}
	if !t.State.valid() {
		add("unknown state %q", t.State)
	}
	if !utf8.ValidString(t.Text) {
		add("text is not UTF-8")
	} else if n := utf8.RuneCountInString(t.Text); n > MaxTicketText {
		add("text has %d characters, limit %d", n, MaxTicketText)
	}
	if len(t.Attachments) > MaxAttachments {
		add("%d attachments, limit %d", len(t.Attachments), MaxAttachments)
	}
	for i, a := range t.Attachments {
		if a.Kind == "" || !shortText(a.Kind, maxField) || a.FileID == "" || !shortText(a.FileID, maxFileID) {
			add("attachment %d malformed", i)
		}
	}
	if !shortText(t.RequesterName, maxName) {
		add("requester name too long or not UTF-8")
	}
	for name, v := range map[string]string{"lang": t.Lang, "district": t.District, "topic": t.Topic, "assignee": t.Assignee} {
		if !shortText(v, maxField) {
			add("%s too long or not UTF-8", name)
		}
	}
	if !t.Redacted {
		if t.Requester == "" || t.RequesterChat == 0 {
			add("requester or requester chat missing")
		}
	} else if t.Requester != "" || t.RequesterChat != 0 || t.RequesterName != "" || t.Text != "" || len(t.Attachments) > 0 {
		add("redacted ticket holds personal content")
	}
	if t.Assignee == "" || t.AssigneeChat == 0 {
		add("assignee or assignee chat missing")
	}
	// A final ticket keeps ClaimedBy: who handled it, for monitoring.
	if claimed := t.State == TicketClaimed || t.State == TicketAnswered; claimed && t.ClaimedBy == 0 || t.State == TicketOpen && t.ClaimedBy != 0 {
		add("claimed by %d in state %q", t.ClaimedBy, t.State)
	}
	if t.Created.IsZero() || t.Updated.IsZero() {
		add("created or updated time missing")
	}
	if t.Escalations < 0 {
		add("negative escalations")
	}
	if len(t.History) == 0 || len(t.History) > MaxHistory {
		add("%d history events, want 1 to %d", len(t.History), MaxHistory)
	}
	for i, ev := range t.History {
		if err := ev.validate(); err != nil {
			add("history %d: %v", i, err)
		}
	}
	if len(t.Topics) > MaxTopics {
		add("%d forum topics, limit %d", len(t.Topics), MaxTopics)
	}
	for i, ft := range t.Topics {
		if ft.Chat == 0 || ft.Thread <= 0 {
			add("forum topic %d malformed", i)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("ticket: %s: %w", strings.Join(problems, "; "), ErrInvalid)
	}
	return nil
}

func shortText(s string, max int) bool {
	return utf8.ValidString(s) && utf8.RuneCountInString(s) <= max
}

// Clone returns a deep copy of t, so a store's copy and a caller's copy
// never share slices.
func (t Ticket) Clone() Ticket {
	t.Attachments = append([]Attachment(nil), t.Attachments...)
	t.History = append([]TicketEvent(nil), t.History...)
	t.Topics = append([]ForumTopic(nil), t.Topics...)
	return t
}

// References look like "K-7F3Q": a prefix and Crockford base32 digits.
// Crockford's alphabet leaves out I, L, O and U, so no two digits sound or
// look alike, and ParseRef reads O as 0 and I, L as 1 when people type
// what they heard.
const (
	// RefPrefix starts every reference ("K" for Kontakt).
	RefPrefix = "K-"
	// RefDigits is the length of a fresh reference: 32⁴ ≈ 1 million, far
	// more than the tickets alive at once. Stores retry collisions and
	// lengthen the reference (up to maxRefDigits) if they keep colliding.
	RefDigits    = 4
	maxRefDigits = 8
	refAlphabet  = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
)

// NewRef returns a random reference with digits digits (RefDigits if
// digits is out of range). Uniqueness is the store's job.
func NewRef(digits int) string {
	if digits < RefDigits || digits > maxRefDigits {
		digits = RefDigits
	}
	var b [maxRefDigits]byte
	rand.Read(b[:digits]) // never fails (crypto/rand)
	// The first digit is never K, so ParseRef can strip a typed prefix
	// without guessing: "K7F3Q" is always K-7F3Q, never K-K7F3Q cut short.
	for refAlphabet[b[0]&31] == 'K' {
		rand.Read(b[:1])
	}
	out := make([]byte, 0, len(RefPrefix)+digits)
	out = append(out, RefPrefix...)
	for _, c := range b[:digits] {
		out = append(out, refAlphabet[c&31])
	}
	return string(out)
}

// ParseRef returns the canonical form of a reference as a person might
// type it: any case, with or without the prefix, dash or spaces, O for 0,
// I or L for 1 ("k 7f3q" → "K-7F3Q"). ok is false if s is not a reference.
func ParseRef(s string) (ref string, ok bool) {
	s = strings.ToUpper(strings.TrimSpace(s))
	if len(s) > 3*maxRefDigits {
		return "", false
	}
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '_', '\u00a0':
			return -1
		case 'O':
			return '0'
		case 'I', 'L':
			return '1'
		}
		return r
	}, s)
	s = strings.TrimPrefix(s, strings.TrimSuffix(RefPrefix, "-"))
	if len(s) < RefDigits || len(s) > maxRefDigits || s[0] == 'K' {
		return "", false
	}
	for _, r := range s {
		if !strings.ContainsRune(refAlphabet, r) {
			return "", false
		}
	}
	return RefPrefix + s, true
}

// maxRefScan bounds how much of a line RefInText reads.
const maxRefScan = 1024

// RefInText returns the first reference printed in the first line of s
// in Lotse's own spelling ("K-" and 4 to 8 digits of the reference
// alphabet, not part of a longer word), as a request message's header
// or a relayed file's caption shows it. Unlike ParseRef it accepts no
// typing variants: it reads what Lotse wrote, not what a person typed.
// ok is false if the line holds none.
func RefInText(s string) (ref string, ok bool) {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > maxRefScan {
		s = s[:maxRefScan]
	}
	for from := 0; from < len(s); {
		i := strings.Index(s[from:], RefPrefix)
		if i < 0 {
			return "", false
		}
		start := from + i
		from = start + 1
		end := start + len(RefPrefix)
		for end < len(s) && end-start-len(RefPrefix) <= maxRefDigits && strings.IndexByte(refAlphabet, s[end]) >= 0 {
			end++
		}
		digits := s[start+len(RefPrefix) : end]
		if len(digits) < RefDigits || len(digits) > maxRefDigits || digits[0] == 'K' {
			continue
		}
		if r, _ := utf8.DecodeLastRuneInString(s[:start]); start > 0 && isWordRune(r) {
			continue
		}
		if r, _ := utf8.DecodeRuneInString(s[end:]); end < len(s) && isWordRune(r) {
			continue
		}
		return s[start:end], true
	}
	return "", false
}

func isWordRune(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }
