package bot

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/lotse-bot/lotse/i18n"
	"github.com/lotse-bot/lotse/knowledge"
)

// Desk is where the requests for one person entry of the knowledge base
// (a Quartiermanager, an office) arrive: the chat that receives them and
// the Telegram users who may act on them. Staff user ids and chats are
// municipal staff acting in their role, not refugees' data.
type Desk struct {
	// Person is the person entry id (a routing target).
	Person string
	// Users may claim, answer, hand over and close the desk's requests.
	Users []int64
	// Names optionally give staff members' first names, so a colleague
	// who loses a claim race is told who has the request.
	Names map[int64]string
	// Chat receives the requests: a staff member's private chat (their
	// user id) or a team group (negative id).
	Chat int64
	// Forum: the group is a supergroup with topics; each request gets
	// a topic of its own there (forum.go).
	Forum bool
	// Lang is the language of the desk's messages (default "de").
	Lang string
}

// StaffDirectory maps routing targets to desks and staff users to what
// they may do. Its content is immutable after NewStaffDirectory; Replace
// points a directory in use at a newer one (a reloaded staff file), and
// every method then answers from that one.
type StaffDirectory struct {
	// next is the directory in force after a Replace (nil: this one).
	next atomic.Pointer[StaffDirectory]

	desks        map[string]Desk
	order        []string           // person ids in configuration order
	byUser       map[int64][]string // user → persons
	byChat       map[int64][]string // chat → persons
	coordinators map[int64]bool
	curators     map[int64]bool // see WithCurators (report.go)
	names        map[int64]string
}

// NewStaffDirectory checks desks and coordinators (user ids that may act
// on every request) and builds a directory. Every desk needs a person id,
// a chat and at least one user; a person may have one desk only.
func NewStaffDirectory(desks []Desk, coordinators []int64) (*StaffDirectory, error) {
	d := &StaffDirectory{
		desks: map[string]Desk{}, byUser: map[int64][]string{}, byChat: map[int64][]string{},
		coordinators: map[int64]bool{}, names: map[int64]string{},
	}
	var errs []error
	for i, k := range desks {
		switch {
		case !validID(k.Person):
			errs = append(errs, fmt.Errorf("desk %d: person id %q is not an entry id", i+1, k.Person))
			continue
		case k.Chat == 0:
			errs = append(errs, fmt.Errorf("desk %q: no chat", k.Person))
		case len(k.Users) == 0:
			errs = append(errs, fmt.Errorf("desk %q: no users", k.Person))
		}
		if _, dup := d.desks[k.Person]; dup {
			errs = append(errs, fmt.Errorf("desk %q: configured twice", k.Person))
			continue
		}
		if k.Lang == "" {
			k.Lang = "de"
		}
		if !i18n.Supported(k.Lang) {
			errs = append(errs, fmt.Errorf("desk %q: language %q is not shipped", k.Person, k.Lang))
		}
		for _, u := range k.Users {
			if u <= 0 {
				errs = append(errs, fmt.Errorf("desk %q: user id %d is not a Telegram user id", k.Person, u))
				continue
			}
			if !slices.Contains(d.byUser[u], k.Person) {
				d.byUser[u] = append(d.byUser[u], k.Person)
			}
		}
		for u, n := range k.Names {
			if n = strings.TrimSpace(n); n != "" {
				d.names[u] = clip(n, maxName)
			}
		}
		k.Users = slices.Clone(k.Users)
		d.desks[k.Person] = k
		d.order = append(d.order, k.Person)
		d.byChat[k.Chat] = append(d.byChat[k.Chat], k.Person)
	}
	for _, u := range coordinators {
		if u <= 0 {
			errs = append(errs, fmt.Errorf("coordinator %d is not a Telegram user id", u))
			continue
		}
		d.coordinators[u] = true
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("staff: %w", err)
	}
	return d, nil
}

// Check reports every routing target of kb without a desk and every desk
// whose person is not a person entry of kb. Start-up refuses such a
// configuration: a request routed to nobody would be lost.
func (d *StaffDirectory) Check(kb *knowledge.KB) error {
	d = d.cur()
	var errs []error
	for _, e := range kb.RoutingTargets() {
		if _, ok := d.desks[e.ID]; !ok {
			errs = append(errs, fmt.Errorf("routing target %q (%s:%d) has no staff chat", e.ID, e.Pos.File, e.Pos.Line))
		}
	}
	for _, p := range d.order {
		if e, ok := kb.Entry(p); !ok || e.Kind != knowledge.KindPerson {
			errs = append(errs, fmt.Errorf("desk %q: no person entry with that id", p))
		}
	}
	return errors.Join(errs...)
}

// Desk returns the desk of person.
func (d *StaffDirectory) Desk(person string) (Desk, bool) {
	d = d.cur()
	k, ok := d.desks[person]
	return k, ok
}

// Persons returns the persons user serves, in configuration order.
func (d *StaffDirectory) Persons(user int64) []string { return d.cur().byUser[user] }

// IsStaff reports whether user serves a desk or is a coordinator.
func (d *StaffDirectory) IsStaff(user int64) bool {
	d = d.cur()
	return len(d.byUser[user]) > 0 || d.coordinators[user]
}

// IsCoordinator reports whether user may act on every request.
func (d *StaffDirectory) IsCoordinator(user int64) bool { return d.cur().coordinators[user] }

// IsStaffChat reports whether chat receives requests.
func (d *StaffDirectory) IsStaffChat(chat int64) bool { return len(d.cur().byChat[chat]) > 0 }

// MayAct reports whether user may act on requests assigned to person.
func (d *StaffDirectory) MayAct(user int64, person string) bool {
	d = d.cur()
	return d.coordinators[user] || slices.Contains(d.byUser[user], person)
}

// Name is a staff member's configured first name, or "".
func (d *StaffDirectory) Name(user int64) string { return d.cur().names[user] }

// All returns every configured person id, in configuration order.
func (d *StaffDirectory) All() []string { return slices.Clone(d.cur().order) }

// ChatPersons returns the persons whose requests arrive in chat.
func (d *StaffDirectory) ChatPersons(chat int64) []string { return d.cur().byChat[chat] }

// cur is the directory in force: the one the last Replace installed, or
// d itself.
func (d *StaffDirectory) cur() *StaffDirectory {
	if n := d.next.Load(); n != nil {
		return n
	}
	return d
}

// Replace makes n the directory in force wherever d is used (n's own
// replacement, if it has one, is followed). Callers that hold d see the
// change with their next call; a caller that makes several calls in a
// row may see the old directory in some and the new one in others.
func (d *StaffDirectory) Replace(n *StaffDirectory) {
	d.next.Store(n.cur())
}
