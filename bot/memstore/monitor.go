package memstore

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"time"

	"github.com/lotse-bot/lotse/bot/monitor"
)

// Monitor is an in-memory monitor.Store with the same retention as the
// Redis one, following the injected clock. Active users are kept as an
// exact set of SHA-256 hashes of the pseudonymous keys per period, never
// the keys themselves; the Redis store's HyperLogLog estimates what this
// counts exactly.
type Monitor struct {
	mu        sync.Mutex
	now       func() time.Time
	days      map[string]*dayItem        // by monitor.DayKey
	active    map[string]*activeItem     // "w:2026-W47", "m:2026-11"
	questions map[string]*unansweredItem // by monitor.DayKey
	lastSweep time.Time
}

type dayItem struct {
	day     monitor.Day
	expires time.Time
}

type activeItem struct {
	users   map[[sha256.Size]byte]struct{}
	expires time.Time
}

type unansweredItem struct {
	qs      []monitor.Unanswered
	expires time.Time
}

var _ monitor.Store = (*Monitor)(nil)

// NewMonitor returns an empty Monitor; now is the clock (time.Now if nil).
func NewMonitor(now func() time.Time) *Monitor {
	if now == nil {
		now = time.Now
	}
	return &Monitor{now: now, days: map[string]*dayItem{}, active: map[string]*activeItem{}, questions: map[string]*unansweredItem{}}
}

// dayLocked returns the counters of t's day, creating them; nil if the
// day is already past retention.
func (m *Monitor) dayLocked(t time.Time) *monitor.Day {
	now := m.now()
	m.sweepLocked(now)
	key := monitor.DayKey(t)
	if it, ok := m.days[key]; ok && now.Before(it.expires) {
		return &it.day
	}
	exp := monitor.Midnight(t).Add(monitor.AggregateRetention)
	if !now.Before(exp) {
		return nil
	}
	it := &dayItem{expires: exp, day: monitor.Day{
		Questions:   map[monitor.QKey]int64{},
		Tickets:     map[monitor.TKey]int64{},
		FirstAnswer: map[string]monitor.Histogram{},
		Close:       map[string]monitor.Histogram{},
	}}
	m.days[key] = it
	return &it.day
}

// Question implements monitor.Recorder.
func (m *Monitor) Question(_ context.Context, q monitor.Q) error {
	if err := q.Validate(); err != nil {
		return fmt.Errorf("memstore: question: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if d := m.dayLocked(q.Day); d != nil {
		d.Questions[monitor.QKey{Topic: q.Topic, District: q.District, Lang: q.Lang, Answered: q.Answered}]++
	}
	return nil
}

// Ticket implements monitor.Recorder.
func (m *Monitor) Ticket(_ context.Context, ev monitor.TicketEvent) error {
	if err := ev.Validate(); err != nil {
		return fmt.Errorf("memstore: ticket: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	d := m.dayLocked(ev.Day)
	if d == nil {
		return nil
	}
	d.Tickets[monitor.TKey{Kind: ev.Kind, District: ev.District, Topic: ev.Topic, Outcome: ev.Outcome}]++
	var hs map[string]monitor.Histogram
	switch ev.Kind {
	case monitor.TicketAnswered:
		hs = d.FirstAnswer
	case monitor.TicketClosed:
		hs = d.Close
	default:
		return nil
	}
	h := hs[ev.District]
	h[monitor.Bucket(ev.Wait)]++
	hs[ev.District] = h
	return nil
}

// Active implements monitor.Recorder.
func (m *Monitor) Active(_ context.Context, user string, at time.Time) error {
	if user == "" {
		return fmt.Errorf("memstore: active: empty user: %w", monitor.ErrInvalid)
	}
	h := sha256.Sum256([]byte(user))
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.sweepLocked(now)
	for _, p := range activePeriods(at) {
		it, ok := m.active[p.key]
		if !ok || !now.Before(it.expires) {
			if !now.Before(p.expires) {
				continue
			}
			it = &activeItem{users: map[[sha256.Size]byte]struct{}{}, expires: p.expires}
			m.active[p.key] = it
		}
		it.users[h] = struct{}{}
	}
	return nil
}

type activePeriod struct {
	key     string
	expires time.Time
}

// activePeriods returns the week and month of at with their expiry.
func activePeriods(at time.Time) []activePeriod {
	day := monitor.Midnight(at)
	monday := day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7))
	first := day.AddDate(0, 0, 1-day.Day())
	return []activePeriod{
		{"w:" + monitor.WeekKey(at), monday.Add(monitor.ActiveRetention)},
		{"m:" + monitor.MonthKey(at), first.Add(monitor.ActiveRetention)},
	}
}

// Reminder implements monitor.Recorder.
func (m *Monitor) Reminder(_ context.Context, n int, at time.Time) error {
	if err := monitor.ValidCounts(n); err != nil {
		return fmt.Errorf("memstore: reminder: %w", err)
	}
	if n == 0 {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if d := m.dayLocked(at); d != nil {
		d.Reminders += int64(n)
	}
	return nil
}

// Broadcast implements monitor.Recorder.
func (m *Monitor) Broadcast(_ context.Context, delivered, blocked, failed int, at time.Time) error {
	if err := monitor.ValidCounts(delivered, blocked, failed); err != nil {
		return fmt.Errorf("memstore: broadcast: %w", err)
	}
	if delivered+blocked+failed == 0 {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if d := m.dayLocked(at); d != nil {
		d.Delivered += int64(delivered)
		d.Blocked += int64(blocked)
		d.Failed += int64(failed)
	}
	return nil
}

// Unanswered implements monitor.Recorder.
func (m *Monitor) Unanswered(_ context.Context, text, lang string, at time.Time) error {
	if !monitor.ValidDim(lang) {
		return fmt.Errorf("memstore: unanswered: language is not a short id: %w", monitor.ErrInvalid)
	}
	text = monitor.CleanText(text)
	if text == "" {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.sweepLocked(now)
	key := monitor.DayKey(at)
	it, ok := m.questions[key]
	if !ok || !now.Before(it.expires) {
		exp := monitor.Midnight(at).Add(monitor.UnansweredRetention)
		if !now.Before(exp) {
			return nil
		}
		it = &unansweredItem{expires: exp}
		m.questions[key] = it
	}
	if len(it.qs) < monitor.MaxUnansweredPerDay {
		it.qs = append(it.qs, monitor.Unanswered{Text: text, Lang: lang})
	}
	return nil
}

// Figures implements monitor.Reader.
func (m *Monitor) Figures(_ context.Context, from, to time.Time) (monitor.Figures, error) {
	days, err := monitor.DaysIn(from, to)
	if err != nil {
		return monitor.Figures{}, fmt.Errorf("memstore: figures: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	var f monitor.Figures
	for _, d := range days {
		it, ok := m.days[monitor.DayKey(d)]
		if !ok || !now.Before(it.expires) || emptyDay(it.day) {
			continue
		}
		f.Days = append(f.Days, copyDay(it.day, d))
	}
	weeks, months := monitor.PeriodsIn(days)
	read := func(prefix string, keys []string) []monitor.Active {
		var out []monitor.Active
		for _, k := range keys {
			if it, ok := m.active[prefix+k]; ok && now.Before(it.expires) && len(it.users) > 0 {
				out = append(out, monitor.Active{Period: k, Users: int64(len(it.users))})
			}
		}
		return out
	}
	f.Weeks, f.Months = read("w:", weeks), read("m:", months)
	return f, nil
}

// UnansweredTexts implements monitor.Reader.
func (m *Monitor) UnansweredTexts(_ context.Context, from, to time.Time) ([]monitor.Unanswered, error) {
	days, err := monitor.DaysIn(from, to)
	if err != nil {
		return nil, fmt.Errorf("memstore: unanswered texts: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	var out []monitor.Unanswered
	for _, d := range days {
		it, ok := m.questions[monitor.DayKey(d)]
		if !ok || !now.Before(it.expires) {
			continue
		}
		for _, q := range it.qs {
			q.Date = d
			out = append(out, q)
		}
	}
	return out, nil
}

func emptyDay(d monitor.Day) bool {
	return len(d.Questions) == 0 && len(d.Tickets) == 0 && d.Reminders == 0 && d.Delivered+d.Blocked+d.Failed == 0
}

// copyDay copies d's maps so callers cannot alias stored state, dating it
// date.
func copyDay(d monitor.Day, date time.Time) monitor.Day {
	out := d
	out.Date = date
	out.Questions = make(map[monitor.QKey]int64, len(d.Questions))
	for k, v := range d.Questions {
		out.Questions[k] = v
	}
	out.Tickets = make(map[monitor.TKey]int64, len(d.Tickets))
	for k, v := range d.Tickets {
		out.Tickets[k] = v
	}
	out.FirstAnswer = make(map[string]monitor.Histogram, len(d.FirstAnswer))
	for k, v := range d.FirstAnswer {
		out.FirstAnswer[k] = v
	}
	out.Close = make(map[string]monitor.Histogram, len(d.Close))
	for k, v := range d.Close {
		out.Close[k] = v
	}
	return out
}

// sweepLocked drops expired figures at most once an hour.
func (m *Monitor) sweepLocked(now time.Time) {
	if now.Sub(m.lastSweep) < time.Hour {
		return
	}
	m.lastSweep = now
	for k, it := range m.days {
		if !now.Before(it.expires) {
			delete(m.days, k)
		}
	}
	for k, it := range m.active {
		if !now.Before(it.expires) {
			delete(m.active, k)
		}
	}
	for k, it := range m.questions {
		if !now.Before(it.expires) {
			delete(m.questions, k)
		}
	}
}
