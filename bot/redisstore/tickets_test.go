package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/bottest"
	"github.com/lotse-bot/lotse/bot/bottest/storetest"
	"github.com/lotse-bot/lotse/bot/redisstore"
)

// dumping adds storetest.Dumper to the aging adapter: every key of the
// namespace with its whole value, so the suite can search it for personal
// data.
type dumping struct{ aging }

func (d dumping) Dump(ctx context.Context) (string, error) {
	var b strings.Builder
	keys := bottest.Keys(d.t, d.rdb, d.ns+":*")
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		typ, err := d.rdb.Type(ctx, k).Result()
		if err != nil {
			return "", err
		}
		var v any
		switch typ {
		case "none":
			continue
		case "string":
			v, err = d.rdb.Get(ctx, k).Result()
		case "set":
			v, err = d.rdb.SMembers(ctx, k).Result()
		case "zset":
			v, err = d.rdb.ZRangeWithScores(ctx, k, 0, -1).Result()
		case "hash":
			v, err = d.rdb.HGetAll(ctx, k).Result()
		case "list":
			v, err = d.rdb.LRange(ctx, k, 0, -1).Result()
		case "stream":
			v, err = d.rdb.XRange(ctx, k, "-", "+").Result()
		default:
			return "", fmt.Errorf("key %s: unexpected type %s", k, typ)
		}
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "%s = %v\n", k, v)
	}
	return b.String(), nil
}

// mustTicketStore returns a Store on its own namespace whose clock is now.
func mustTicketStore(t testing.TB, now func() time.Time) (*redisstore.Store, redis.UniversalClient, string) {
	t.Helper()
	rdb := bottest.Redis(t)
	ns := bottest.Namespace(t, rdb)
	return redisstore.New(rdb, redisstore.Options{Namespace: ns, Now: now}), rdb, ns
}

func TestTicketConformance(t *testing.T) {
	storetest.RunTickets(t, func(t *testing.T, now func() time.Time) bot.TicketStore {
		s, rdb, ns := mustTicketStore(t, now)
		return dumping{aging{Store: s, t: t, rdb: rdb, ns: ns}}
	})
}

// TestTicketClusterConformance runs the ticket suite on a real Redis
// Cluster: every MULTI/EXEC of a ticket spans several keys, which must
// share the {tk} hash tag or the cluster answers CROSSSLOT.
func TestTicketClusterConformance(t *testing.T) {
	rdb := bottest.Cluster(t)
	storetest.RunTickets(t, func(t *testing.T, now func() time.Time) bot.TicketStore {
		ns := bottest.Namespace(t, rdb)
		s := redisstore.New(rdb, redisstore.Options{Namespace: ns, Now: now})
		return dumping{aging{Store: s, t: t, rdb: rdb, ns: ns}}
	})
}

// mustOpenTicket returns a complete open ticket of user u.
func mustOpenTicket(t testing.TB, u bot.UserKey, at time.Time) bot.Ticket {
	t.Helper()
	tk := bot.Ticket{
		Requester: u, RequesterChat: 4711, RequesterName: "Amina", Lang: "ar", District: "nord", Topic: "schule",
		Text: "Brief vom Amt", Assignee: "qm-nord", AssigneeChat: -100999, Due: at.Add(24 * time.Hour),
		Attachments: []bot.Attachment{{Kind: "photo", FileID: "AgAD"}},
	}
	mustNoErr(t, tk.Apply(bot.TicketEvent{At: at, Kind: bot.EventCreated, Actor: bot.ActorRequester}))
	return tk
}

// TestTicketKeysHaveTTL: after a scripted sequence touching every ticket
// operation, every key of the namespace expires, within the ticket TTL.
func TestTicketKeysHaveTTL(t *testing.T) {
	const ttl = 30 * 24 * time.Hour
	rdb := bottest.Redis(t)
	ns := bottest.Namespace(t, rdb)
	now := time.Now()
	s := redisstore.New(rdb, redisstore.Options{Namespace: ns, TicketTTL: ttl})
	ctx := context.Background()

	a, err := s.CreateTicket(ctx, mustOpenTicket(t, "user-a", now))
	mustNoErr(t, err)
	b, err := s.CreateTicket(ctx, mustOpenTicket(t, "user-b", now))
	mustNoErr(t, err)
	c, err := s.CreateTicket(ctx, mustOpenTicket(t, "user-a", now))
	mustNoErr(t, err)
	mustNoErr(t, s.LinkMessage(ctx, 4711, 1, a.Ref))
	mustNoErr(t, s.LinkMessage(ctx, -100999, 2, b.Ref))
	mustNoErr(t, s.LinkMessage(ctx, -100999, 3, c.Ref))
	apply := func(ref string, ev bot.TicketEvent) {
		t.Helper()
		_, err := s.UpdateTicket(ctx, ref, func(t *bot.Ticket) error { return t.Apply(ev) })
		mustNoErr(t, err)
	}
	apply(b.Ref, bot.TicketEvent{At: now, Kind: bot.EventClaimed, Actor: bot.StaffActor(9)})
	apply(b.Ref, bot.TicketEvent{At: now, Kind: bot.EventClosed, Actor: bot.StaffActor(9), Note: "done"})
	apply(c.Ref, bot.TicketEvent{At: now, Kind: bot.EventHandedOver, Actor: bot.ActorSystem, Assignee: "amt", AssigneeChat: -5})
	mustNoErr(t, s.SetAbsent(ctx, "qm-nord", now.Add(72*time.Hour)))
	_, err = s.DueTickets(ctx, now.Add(48*time.Hour), 10)
	mustNoErr(t, err)
	mustNoErr(t, s.SaveSession(ctx, "user-a", bot.Session{Lang: "ar"}, time.Hour))

	keys := bottest.Keys(t, rdb, ns+":*")
	for _, want := range []string{":{tk}:t:", ":{tk}:l:", ":{tk}:m:", ":{tk}:u:", ":{tk}:a:", ":{tk}:due", ":{tk}:closed", ":absent:"} {
		found := false
		for k := range keys {
			found = found || strings.Contains(k, want)
		}
		if !found {
			t.Errorf("no key like %q; have %v", want, keys)
		}
	}
	check := func(stage string) {
		t.Helper()
		for key, left := range bottest.Keys(t, rdb, ns+":*") {
			if left <= 0 || left > ttl {
				t.Errorf("%s: key %s has TTL %v, want in (0, %v]", stage, key, left, ttl)
			}
		}
	}
	check("after use")
	mustNoErr(t, s.Forget(ctx, "user-a"))
	_, err = s.PurgeClosed(ctx, now.Add(time.Hour))
	mustNoErr(t, err)
	check("after forget and purge")
}

// TestTicketIndexesSurviveRefReuse: an index entry left by an expired
// ticket must not show a new ticket with the same ref to the old user.
func TestTicketStaleIndexEntries(t *testing.T) {
	s, rdb, ns := mustTicketStore(t, nil)
	ctx := context.Background()
	tk, err := s.CreateTicket(ctx, mustOpenTicket(t, "user-b", time.Now()))
	mustNoErr(t, err)
	// As if user-a's ticket with this ref had expired and the ref been
	// reused for user-b's.
	mustNoErr(t, rdb.SAdd(ctx, ns+":{tk}:u:user-a", tk.Ref, "K-ZZZZ").Err())
	mustNoErr(t, rdb.PExpire(ctx, ns+":{tk}:u:user-a", time.Hour).Err())
	mustNoErr(t, rdb.ZAdd(ctx, ns+":{tk}:due", redis.Z{Score: 1, Member: "K-YYYY"}).Err())
	got, err := s.OpenTicketsOf(ctx, "user-a")
	if err != nil || len(got) != 0 {
		t.Fatalf("OpenTicketsOf(user-a) = %v, %v; want none", got, err)
	}
	if left, _ := rdb.SCard(ctx, ns+":{tk}:u:user-a").Result(); left != 0 {
		t.Errorf("%d stale index entries left", left)
	}
	due, err := s.DueTickets(ctx, time.Now().Add(48*time.Hour), 10)
	if err != nil || len(due) != 1 || due[0] != tk.Ref {
		t.Fatalf("DueTickets = %v, %v; want only %s", due, err, tk.Ref)
	}
	if n, _ := rdb.ZCard(ctx, ns+":{tk}:due").Result(); n != 1 {
		t.Errorf("due index has %d entries, want 1", n)
	}
	n, err := s.RedactTickets(ctx, "user-a")
	if err != nil || n != 0 {
		t.Fatalf("RedactTickets(user-a) = %d, %v; redacted another user's ticket", n, err)
	}
	if got, _ := s.Ticket(ctx, tk.Ref); got.Redacted {
		t.Fatal("user-b's ticket redacted for user-a")
	}
}

func TestTicketInvalidKeys(t *testing.T) {
	s, rdb, ns := mustTicketStore(t, nil)
	ctx := context.Background()
	for _, u := range []bot.UserKey{"a{b", "}"} {
		if _, err := s.CreateTicket(ctx, mustOpenTicket(t, u, time.Now())); !errors.Is(err, bot.ErrInvalid) {
			t.Errorf("CreateTicket(user %q) = %v; want ErrInvalid", u, err)
		}
		if _, err := s.OpenTicketsOf(ctx, u); err == nil {
			t.Errorf("OpenTicketsOf(%q) succeeded", u)
		}
	}
	for _, id := range []string{"a b", "x{y}", strings.Repeat("x", 65), "\n"} {
		tk := mustOpenTicket(t, "u", time.Now())
		tk.Assignee = id
		if _, err := s.CreateTicket(ctx, tk); !errors.Is(err, bot.ErrInvalid) {
			t.Errorf("CreateTicket(assignee %q) = %v; want ErrInvalid", id, err)
		}
		if err := s.SetAbsent(ctx, id, time.Now().Add(time.Hour)); !errors.Is(err, bot.ErrInvalid) {
			t.Errorf("SetAbsent(%q) = %v; want ErrInvalid", id, err)
		}
	}
	if keys := bottest.Keys(t, rdb, ns+":*"); len(keys) != 0 {
		t.Errorf("invalid calls wrote %v", keys)
	}
}

// TestTicketUnavailable: ticket operations map outages like the session
// operations do.
func TestTicketUnavailable(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{
		Addr: closedAddr(t), DialTimeout: 200 * time.Millisecond, MaxRetries: -1, DialerRetries: 1,
		Protocol: 2, DisableIdentity: true,
	})
	t.Cleanup(func() { rdb.Close() })
	s := redisstore.New(rdb, redisstore.Options{Namespace: "lotsetest"})
	ctx := context.Background()
	ops := map[string]func() error{
		"CreateTicket": func() error { _, err := s.CreateTicket(ctx, mustOpenTicket(t, "u", time.Now())); return err },
		"Ticket":       func() error { _, err := s.Ticket(ctx, "K-7F3Q"); return err },
		"UpdateTicket": func() error {
			_, err := s.UpdateTicket(ctx, "K-7F3Q", func(*bot.Ticket) error { return nil })
			return err
		},
		"OpenTicketsOf":    func() error { _, err := s.OpenTicketsOf(ctx, "u"); return err },
		"LinkMessage":      func() error { return s.LinkMessage(ctx, 1, 1, "K-7F3Q") },
		"TicketForMessage": func() error { _, err := s.TicketForMessage(ctx, 1, 1); return err },
		"DueTickets":       func() error { _, err := s.DueTickets(ctx, time.Now(), 10); return err },
		"Absent":           func() error { _, err := s.Absent(ctx, "qm", time.Now()); return err },
		"RedactTickets":    func() error { _, err := s.RedactTickets(ctx, "u"); return err },
		"PurgeClosed":      func() error { _, err := s.PurgeClosed(ctx, time.Now()); return err },
	}
	for name, op := range ops {
		if err := op(); !errors.Is(err, bot.ErrUnavailable) || errors.Is(err, bot.ErrNotFound) {
			t.Errorf("%s: %v; want ErrUnavailable", name, err)
		}
	}
}

// BenchmarkCreateTicket measures durable ticket creation from many
// goroutines (each creation waits for Redis' acknowledgement).
func BenchmarkCreateTicket(b *testing.B) {
	s, rdb, _ := mustTicketStore(b, nil)
	rt := &roundTrips{}
	rdb.AddHook(rt)
	tmpl := mustOpenTicket(b, "bench-user", time.Now())
	var failed atomic.Value
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if _, err := s.CreateTicket(ctx, tmpl); err != nil {
				failed.CompareAndSwap(nil, err)
				return
			}
		}
	})
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(rt.n.Load())/float64(b.N), "roundtrips/op")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tickets/s")
}

// BenchmarkClaimRace: per iteration, 50 staff press Claim on one fresh
// ticket at once; exactly one must win. Reports the time until all 50
// have their answer.
func BenchmarkClaimRace(b *testing.B) {
	const staff = 50
	s, _, _ := mustTicketStore(b, nil)
	ctx := context.Background()
	tmpl := mustOpenTicket(b, "bench-user", time.Now())
	var retriesTotal atomic.Int64
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		tk, err := s.CreateTicket(ctx, tmpl)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		var wins atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range staff {
			wg.Go(func() {
				<-start
				calls := 0
				_, err := s.UpdateTicket(ctx, tk.Ref, func(t *bot.Ticket) error {
					calls++
					return t.Apply(bot.TicketEvent{At: time.Now(), Kind: bot.EventClaimed, Actor: bot.StaffActor(int64(i + 1))})
				})
				retriesTotal.Add(int64(calls - 1))
				switch {
				case err == nil:
					wins.Add(1)
				case !errors.Is(err, bot.ErrInvalidTransition):
					b.Error(err)
				}
			})
		}
		close(start)
		wg.Wait()
		if wins.Load() != 1 {
			b.Fatalf("%d winners", wins.Load())
		}
	}
	b.ReportMetric(float64(retriesTotal.Load())/float64(b.N*staff), "retries/claim")
}
