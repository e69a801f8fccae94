package redisstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lotse-bot/lotse/bot/monitor"
)

// Monitor is a monitor.Store on Redis. Its keys share the Cluster hash tag
// {m}, so each recording is one MULTI/EXEC that writes a counter and its
// TTL together (and a report's reads are one pipeline to one node):
//
//	ns:{m}:d:<YYYY-MM-DD>    hash of the day's counters          AggregateRetention after the day
//	ns:{m}:aw:<YYYY-Www>     HyperLogLog of active users (week)  ActiveRetention after its Monday
//	ns:{m}:am:<YYYY-MM>      HyperLogLog of active users (month) ActiveRetention after the 1st
//	ns:{m}:ua:<YYYY-MM-DD>   list of unanswered questions (JSON) UnansweredRetention after the day
//
// Fields of the day hash, '|'-separated (monitor.ValidDim excludes '|'):
//
//	q|<topic>|<district>|<lang>|<1 answered, 0 not>
//	t|<kind>|<district>|<topic>|<outcome>
//	wa|<district>|<bucket>   first-answer wait histogram
//	wc|<district>|<bucket>   close wait histogram
//	rem, bd, bb, bf          reminders; broadcast delivered, blocked, failed
//
// No key or value holds a user key: the HyperLogLogs keep register values
// only, and unanswered questions keep text and language. TTLs are computed
// from the day (not the write) with the store's clock, so retention is
// measured from when something happened; a write for a day already past
// retention is dropped.
type Monitor struct {
	s *Store
}

var _ monitor.Store = (*Monitor)(nil)

// Monitor returns the monitor store sharing s's client, namespace and
// clock.
func (s *Store) Monitor() *Monitor { return &Monitor{s: s} }

func (m *Monitor) key(kind, id string) string { return m.s.ns + ":{m}:" + kind + ":" + id }

// ttlFrom returns how long a key whose retention started at start still
// lives, or false if it is already past.
func (m *Monitor) ttlFrom(start time.Time, retention time.Duration) (time.Duration, bool) {
	ttl := start.Add(retention).Sub(m.s.now())
	if ttl <= 0 {
		return 0, false
	}
	return max(ttl, time.Millisecond), true
}

// incr adds n to field of at's day hash and sets its TTL, atomically.
func (m *Monitor) incr(ctx context.Context, op string, at time.Time, incs map[string]int64) error {
	ttl, ok := m.ttlFrom(monitor.Midnight(at), monitor.AggregateRetention)
	if !ok {
		return nil
	}
	key := m.key("d", monitor.DayKey(at))
	_, err := m.s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for f, n := range incs {
			p.HIncrBy(ctx, key, f, n)
		}
		p.PExpire(ctx, key, ttl)
		return nil
	})
	return wrap(op, err)
}

// Question implements monitor.Recorder.
func (m *Monitor) Question(ctx context.Context, q monitor.Q) error {
	if err := q.Validate(); err != nil {
		return fmt.Errorf("redisstore: question: %w", err)
	}
	return m.incr(ctx, "question", q.Day, map[string]int64{questionField(q): 1})
}

// questionField is q's field in its day hash.
func questionField(q monitor.Q) string {
	a := "0"
	if q.Answered {
		a = "1"
	}
	return "q|" + q.Topic + "|" + q.District + "|" + q.Lang + "|" + a
}

// Ticket implements monitor.Recorder.
func (m *Monitor) Ticket(ctx context.Context, ev monitor.TicketEvent) error {
	if err := ev.Validate(); err != nil {
		return fmt.Errorf("redisstore: ticket: %w", err)
	}
	incs := map[string]int64{"t|" + ev.Kind + "|" + ev.District + "|" + ev.Topic + "|" + ev.Outcome: 1}
	switch ev.Kind {
	case monitor.TicketAnswered:
		incs["wa|"+ev.District+"|"+strconv.Itoa(monitor.Bucket(ev.Wait))] = 1
	case monitor.TicketClosed:
		incs["wc|"+ev.District+"|"+strconv.Itoa(monitor.Bucket(ev.Wait))] = 1
	}
	return m.incr(ctx, "ticket", ev.Day, incs)
}

// Reminder implements monitor.Recorder.
func (m *Monitor) Reminder(ctx context.Context, n int, at time.Time) error {
	if err := monitor.ValidCounts(n); err != nil {
		return fmt.Errorf("redisstore: reminder: %w", err)
	}
	if n == 0 {
		return nil
	}
	return m.incr(ctx, "reminder", at, map[string]int64{"rem": int64(n)})
}

// Broadcast implements monitor.Recorder.
func (m *Monitor) Broadcast(ctx context.Context, delivered, blocked, failed int, at time.Time) error {
	if err := monitor.ValidCounts(delivered, blocked, failed); err != nil {
		return fmt.Errorf("redisstore: broadcast: %w", err)
	}
	incs := map[string]int64{}
	for f, n := range map[string]int{"bd": delivered, "bb": blocked, "bf": failed} {
		if n > 0 {
			incs[f] = int64(n)
		}
	}
	if len(incs) == 0 {
		return nil
	}
	return m.incr(ctx, "broadcast", at, incs)
}

// Active implements monitor.Recorder with PFADD to the week's and the
// month's HyperLogLog.
func (m *Monitor) Active(ctx context.Context, user string, at time.Time) error {
	if user == "" {
		return fmt.Errorf("redisstore: active: empty user: %w", monitor.ErrInvalid)
	}
	sk := m.sketches(at)
	if len(sk) == 0 {
		return nil
	}
	_, err := m.s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, s := range sk {
			p.PFAdd(ctx, s.key, user)
			p.PExpire(ctx, s.key, s.ttl)
		}
		return nil
	})
	return wrap("active", err)
}

// sketch is an active-user HyperLogLog and its TTL.
type sketch struct {
	key string
	ttl time.Duration
}

// sketches are the week's and the month's sketch of at, those not past
// retention.
func (m *Monitor) sketches(at time.Time) []sketch {
	day := monitor.Midnight(at)
	monday := day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7))
	first := day.AddDate(0, 0, 1-day.Day())
	var sk []sketch
	if ttl, ok := m.ttlFrom(monday, monitor.ActiveRetention); ok {
		sk = append(sk, sketch{m.key("aw", monitor.WeekKey(at)), ttl})
	}
	if ttl, ok := m.ttlFrom(first, monitor.ActiveRetention); ok {
		sk = append(sk, sketch{m.key("am", monitor.MonthKey(at)), ttl})
	}
	return sk
}

// unansweredJSON is a kept question as stored.
type unansweredJSON struct {
	Text string `json:"t"`
	Lang string `json:"l,omitempty"`
}

// Unanswered implements monitor.Recorder. RPUSH then LTRIM keeps the
// first MaxUnansweredPerDay questions of a day in one transaction.
func (m *Monitor) Unanswered(ctx context.Context, text, lang string, at time.Time) error {
	if !monitor.ValidDim(lang) {
		return fmt.Errorf("redisstore: unanswered: language is not a short id: %w", monitor.ErrInvalid)
	}
	text = monitor.CleanText(text)
	if text == "" {
		return nil
	}
	ttl, ok := m.ttlFrom(monitor.Midnight(at), monitor.UnansweredRetention)
	if !ok {
		return nil
	}
	raw, err := json.Marshal(unansweredJSON{Text: text, Lang: lang})
	if err != nil {
		return fmt.Errorf("redisstore: unanswered: encode: %w", err)
	}
	key := m.key("ua", monitor.DayKey(at))
	_, err = m.s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.RPush(ctx, key, raw)
		p.LTrim(ctx, key, 0, monitor.MaxUnansweredPerDay-1)
		p.PExpire(ctx, key, ttl)
		return nil
	})
	return wrap("unanswered", err)
}

var _ monitor.BatchStore = (*Monitor)(nil)

// RecordBatch implements monitor.BatchRecorder in one MULTI/EXEC (one
// round trip): HINCRBY per question field and PEXPIRE per day hash,
// PFADD of all users per week and month sketch, RPUSH of a day's texts
// with its LTRIM. Validation, TTLs and limits are those of the single
// recordings; items whose day is past retention are dropped.
func (m *Monitor) RecordBatch(ctx context.Context, b monitor.Batch) error {
	const op = "record batch"
	type group struct {
		kind   string // "d" day hash, "hll" sketch, "ua" unanswered list
		key    string
		ttl    time.Duration
		fields map[string]int64 // day hashes
		items  []any            // sketch users, unanswered texts
	}
	var order []*group
	groups := map[string]*group{}
	groupOf := func(kind, key string, ttl time.Duration) *group {
		g, ok := groups[key]
		if !ok {
			g = &group{kind: kind, key: key, ttl: ttl}
			groups[key] = g
			order = append(order, g)
		}
		return g
	}
	for _, qc := range b.Questions {
		if err := qc.Q.Validate(); err != nil || qc.N < 0 {
			return fmt.Errorf("redisstore: %s: question: %w", op, monitor.ErrInvalid)
		}
		ttl, ok := m.ttlFrom(monitor.Midnight(qc.Q.Day), monitor.AggregateRetention)
		if !ok || qc.N == 0 {
			continue
		}
		g := groupOf("d", m.key("d", monitor.DayKey(qc.Q.Day)), ttl)
		if g.fields == nil {
			g.fields = map[string]int64{}
		}
		g.fields[questionField(qc.Q)] += qc.N
	}
	for _, a := range b.Active {
		if a.User == "" {
			return fmt.Errorf("redisstore: %s: active: empty user: %w", op, monitor.ErrInvalid)
		}
		for _, sk := range m.sketches(a.At) {
			g := groupOf("hll", sk.key, sk.ttl)
			g.items = append(g.items, a.User)
		}
	}
	for _, u := range b.Unanswered {
		if !monitor.ValidDim(u.Lang) {
			return fmt.Errorf("redisstore: %s: unanswered: language is not a short id: %w", op, monitor.ErrInvalid)
		}
		text := monitor.CleanText(u.Text)
		if text == "" {
			continue
		}
		ttl, ok := m.ttlFrom(monitor.Midnight(u.At), monitor.UnansweredRetention)
		if !ok {
			continue
		}
		raw, err := json.Marshal(unansweredJSON{Text: text, Lang: u.Lang})
		if err != nil {
			return fmt.Errorf("redisstore: %s: encode: %w", op, err)
		}
		g := groupOf("ua", m.key("ua", monitor.DayKey(u.At)), ttl)
		g.items = append(g.items, raw)
	}
	if len(order) == 0 {
		return nil
	}
	_, err := m.s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, g := range order {
			switch g.kind {
			case "d":
				for f, n := range g.fields {
					p.HIncrBy(ctx, g.key, f, n)
				}
			case "ua":
				p.RPush(ctx, g.key, g.items...)
				p.LTrim(ctx, g.key, 0, monitor.MaxUnansweredPerDay-1)
			default: // the week's and month's sketches
				p.PFAdd(ctx, g.key, g.items...)
			}
			p.PExpire(ctx, g.key, g.ttl)
		}
		return nil
	})
	return wrap(op, err)
}

// Figures implements monitor.Reader in one pipeline: HGETALL per day,
// PFCOUNT per week and month. Fields it does not know (written by a newer
// version) are skipped.
func (m *Monitor) Figures(ctx context.Context, from, to time.Time) (monitor.Figures, error) {
	days, err := monitor.DaysIn(from, to)
	if err != nil {
		return monitor.Figures{}, fmt.Errorf("redisstore: figures: %w", err)
	}
	weeks, months := monitor.PeriodsIn(days)
	pipe := m.s.rdb.Pipeline()
	hashes := make([]*redis.MapStringStringCmd, len(days))
	for i, d := range days {
		hashes[i] = pipe.HGetAll(ctx, m.key("d", monitor.DayKey(d)))
	}
	counts := func(kind string, keys []string) []*redis.IntCmd {
		cmds := make([]*redis.IntCmd, len(keys))
		for i, k := range keys {
			cmds[i] = pipe.PFCount(ctx, m.key(kind, k))
		}
		return cmds
	}
	wc, mc := counts("aw", weeks), counts("am", months)
	if _, err := pipe.Exec(ctx); err != nil {
		return monitor.Figures{}, wrap("figures", err)
	}
	var f monitor.Figures
	for i, d := range days {
		h := hashes[i].Val()
		if len(h) == 0 {
			continue
		}
		if day, ok := parseDay(h, d); ok {
			f.Days = append(f.Days, day)
		}
	}
	read := func(keys []string, cmds []*redis.IntCmd) []monitor.Active {
		var out []monitor.Active
		for i, k := range keys {
			if n := cmds[i].Val(); n > 0 {
				out = append(out, monitor.Active{Period: k, Users: n})
			}
		}
		return out
	}
	f.Weeks, f.Months = read(weeks, wc), read(months, mc)
	return f, nil
}

// parseDay decodes a day hash; ok is false if it holds no non-zero count.
func parseDay(h map[string]string, date time.Time) (monitor.Day, bool) {
	d := monitor.Day{
		Date:        date,
		Questions:   map[monitor.QKey]int64{},
		Tickets:     map[monitor.TKey]int64{},
		FirstAnswer: map[string]monitor.Histogram{},
		Close:       map[string]monitor.Histogram{},
	}
	found := false
	for field, v := range h {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			continue
		}
		p := strings.Split(field, "|")
		switch {
		case p[0] == "q" && len(p) == 5:
			d.Questions[monitor.QKey{Topic: p[1], District: p[2], Lang: p[3], Answered: p[4] == "1"}] += n
		case p[0] == "t" && len(p) == 5:
			d.Tickets[monitor.TKey{Kind: p[1], District: p[2], Topic: p[3], Outcome: p[4]}] += n
		case (p[0] == "wa" || p[0] == "wc") && len(p) == 3:
			b, err := strconv.Atoi(p[2])
			if err != nil || b < 0 || b >= monitor.NumBuckets {
				continue
			}
			hs := d.FirstAnswer
			if p[0] == "wc" {
				hs = d.Close
			}
			hist := hs[p[1]]
			hist[b] += n
			hs[p[1]] = hist
		case field == "rem":
			d.Reminders += n
		case field == "bd":
			d.Delivered += n
		case field == "bb":
			d.Blocked += n
		case field == "bf":
			d.Failed += n
		default:
			continue
		}
		found = true
	}
	return d, found
}

// UnansweredTexts implements monitor.Reader. Entries that no longer decode
// are skipped.
func (m *Monitor) UnansweredTexts(ctx context.Context, from, to time.Time) ([]monitor.Unanswered, error) {
	days, err := monitor.DaysIn(from, to)
	if err != nil {
		return nil, fmt.Errorf("redisstore: unanswered texts: %w", err)
	}
	pipe := m.s.rdb.Pipeline()
	lists := make([]*redis.StringSliceCmd, len(days))
	for i, d := range days {
		lists[i] = pipe.LRange(ctx, m.key("ua", monitor.DayKey(d)), 0, monitor.MaxUnansweredPerDay-1)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, wrap("unanswered texts", err)
	}
	var out []monitor.Unanswered
	for i, d := range days {
		for _, raw := range lists[i].Val() {
			var u unansweredJSON
			if json.Unmarshal([]byte(raw), &u) != nil || u.Text == "" {
				continue
			}
			out = append(out, monitor.Unanswered{Text: u.Text, Lang: u.Lang, Date: d})
		}
	}
	return out, nil
}
