package broadcast_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/bottest"
	"github.com/lotse-bot/lotse/bot/broadcast"
	"github.com/lotse-bot/lotse/bot/memstore"
)

func TestMain(m *testing.M) { bottest.Main(m) }

const coordinator = 4711

// script is a bot.Sender whose answer per chat is scripted: the errors
// listed are returned in turn, then success. It records what succeeded.
type script struct {
	mu   sync.Mutex
	errs map[int64][]error
	sent map[int64][]bot.Outgoing
}

func newScript() *script {
	return &script{errs: map[int64][]error{}, sent: map[int64][]bot.Outgoing{}}
}

func (s *script) Send(_ context.Context, msg bot.Outgoing) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if q := s.errs[msg.ChatID]; len(q) > 0 {
		err := q[0]
		if !errors.Is(err, bot.ErrBlocked) { // a blocked chat stays blocked
			s.errs[msg.ChatID] = q[1:]
		}
		return 0, err
	}
	s.sent[msg.ChatID] = append(s.sent[msg.ChatID], msg)
	return len(s.sent), nil
}

func (s *script) AnswerCallback(context.Context, string, string) error { return nil }

func (s *script) to(chat int64) []bot.Outgoing {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]bot.Outgoing(nil), s.sent[chat]...)
}

// reports records the Reporter's calls and the forgotten chats.
type reports struct {
	mu        sync.Mutex
	got       []broadcast.Broadcast
	forgotten []int64
}

func (r *reports) Progress(_ context.Context, b broadcast.Broadcast) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, b)
}

func (r *reports) ForgetChat(_ context.Context, chat int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.forgotten = append(r.forgotten, chat)
	return nil
}

func (r *reports) finals() []broadcast.Broadcast {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []broadcast.Broadcast
	for _, b := range r.got {
		if b.State.Final() {
			out = append(out, b)
		}
	}
	return out
}

// members returns n volunteers of district nord, with languages in turn.
func members(n int) broadcast.List {
	langs := []string{"de", "ar", "uk", "fa", "tr", ""}
	l := make(broadcast.List, n)
	for i := range l {
		l[i] = broadcast.Member{Recipient: broadcast.Recipient{ChatID: int64(1000 + i), Lang: langs[i%len(langs)]},
			District: "nord", Role: broadcast.RoleVolunteer, Topics: []string{"schule"}}
	}
	return l
}

func mustEngine(t *testing.T, cfg broadcast.Config) *broadcast.Engine {
	t.Helper()
	if cfg.Coordinator == nil {
		cfg.Coordinator = func(u int64) bool { return u == coordinator }
	}
	if cfg.Pacer == nil {
		cfg.Pacer = broadcast.NewLocalPacer(10000) // these tests are about outcomes, not pacing
	}
	if cfg.Poll == 0 {
		cfg.Poll = 10 * time.Millisecond
	}
	if cfg.RetryBase == 0 {
		cfg.RetryBase = time.Millisecond
	}
	e, err := broadcast.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

var texts = map[string]string{
	"de": "Integrationskonferenz am Mittwoch, 18 Uhr <b>*Rathaus*</b> [Saal 2]",
	"en": "Integration conference on Wednesday, 6 pm",
	"ar": "مؤتمر الاندماج يوم الأربعاء",
	"uk": "Інтеграційна конференція в середу",
}

func TestPrepare(t *testing.T) {
	ctx := context.Background()
	list := append(members(12), members(3)...) // 3 chats listed twice
	e := mustEngine(t, broadcast.Config{Store: memstore.NewBroadcasts(nil), Recipients: list, Sender: newScript(), Forget: &reports{}})

	if _, _, err := e.Prepare(ctx, 99, broadcast.Audience{}, texts); !errors.Is(err, broadcast.ErrForbidden) {
		t.Fatalf("Prepare by a non-coordinator err = %v, want ErrForbidden", err)
	}
	for name, c := range map[string]struct {
		a     broadcast.Audience
		texts map[string]string
	}{
		"no fallback":      {broadcast.Audience{}, map[string]string{"uk": "лише"}},
		"missing language": {broadcast.Audience{Langs: []string{"tr"}}, map[string]string{"uk": "лише"}},
		"blank":            {broadcast.Audience{}, map[string]string{"de": "  "}},
		"too long":         {broadcast.Audience{}, map[string]string{"de": string(make([]byte, 4097))}},
		"bad district":     {broadcast.Audience{District: "Nord Ost"}, texts},
		"bad role":         {broadcast.Audience{Role: "staff"}, texts},
	} {
		if _, _, err := e.Prepare(ctx, coordinator, c.a, c.texts); !errors.Is(err, bot.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}

	b, p, err := e.Prepare(ctx, coordinator, broadcast.Audience{District: "nord", Role: broadcast.RoleVolunteer}, texts)
	if err != nil {
		t.Fatal(err)
	}
	if b.State != broadcast.Draft || b.Author != coordinator || !broadcast.ValidID(b.ID) {
		t.Fatalf("draft = %+v", b)
	}
	if p.Recipients != 12 || p.ByLang["de"] != 2 || p.ByLang[""] != 2 {
		t.Fatalf("preview = %+v, want 12 recipients, 2 de, 2 unknown", p)
	}
	for lang, want := range map[string]string{"de": texts["de"], "ar": texts["ar"], "fa": texts["en"], "tr": texts["en"], "": texts["en"]} {
		if p.SampleText[lang] != want {
			t.Errorf("sample for %q = %q, want %q", lang, p.SampleText[lang], want)
		}
	}
	_, p, err = e.Prepare(ctx, coordinator, broadcast.Audience{Langs: []string{"uk", "ar"}}, texts)
	if err != nil || p.Recipients != 4 {
		t.Fatalf("preview restricted to uk, ar = %+v, %v; want 4", p, err)
	}
	got, err := e.Status(ctx, b.ID)
	if err != nil || got.State != broadcast.Draft {
		t.Fatalf("Status = %+v, %v", got, err)
	}
}

// TestDeliver runs a broadcast through a scripted sender: every chat
// gets exactly one message in its language; blocked, refused and flaky
// chats end up counted right.
func TestDeliver(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	list := members(60)
	snd := newScript()
	blocked := fmt.Errorf("telegram sendMessage 403: Forbidden (%w)", bot.ErrBlocked)
	unavailable := fmt.Errorf("telegram sendMessage 502 (%w)", bot.ErrUnavailable)
	snd.errs[1000] = []error{blocked}
	refused := errors.New("telegram sendMessage 400: Bad Request")
	snd.errs[1001] = []error{refused, refused, refused, refused, refused} // refused every time
	snd.errs[1002] = []error{unavailable, unavailable}                    // then succeeds
	always := make([]error, 10)
	for i := range always {
		always[i] = unavailable
	}
	snd.errs[1003] = always // fails more often than MaxAttempts
	rep := &reports{}
	e := mustEngine(t, broadcast.Config{Store: memstore.NewBroadcasts(nil), Recipients: list, Sender: snd,
		Forget: rep, Reporter: rep, MaxAttempts: 4, Workers: 4})

	b, _, err := e.Prepare(ctx, coordinator, broadcast.Audience{District: "nord"}, texts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Confirm(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Confirm(ctx, b.ID); !errors.Is(err, broadcast.ErrState) {
		t.Fatalf("second Confirm err = %v, want ErrState", err)
	}
	if err := e.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := e.Status(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := broadcast.Tally{Delivered: 57, Blocked: 1, Failed: 2}
	if got.State != broadcast.Done || got.Tally != want {
		t.Fatalf("final: %s %+v, want done %+v", got.State, got.Tally, want)
	}
	for _, m := range list {
		msgs := snd.to(m.ChatID)
		switch m.ChatID {
		case 1000, 1001, 1003:
			if len(msgs) != 0 {
				t.Errorf("chat %d got %d messages, want 0", m.ChatID, len(msgs))
			}
			continue
		}
		if len(msgs) != 1 {
			t.Errorf("chat %d got %d messages, want 1", m.ChatID, len(msgs))
			continue
		}
		wantText := broadcast.TextFor(texts, m.Lang)
		if msgs[0].Text != wantText || msgs[0].RTL != (m.Lang == "ar") || msgs[0].Buttons != nil {
			t.Errorf("chat %d (%s) got %q rtl=%v, want %q", m.ChatID, m.Lang, msgs[0].Text, msgs[0].RTL, wantText)
		}
	}
	if len(rep.forgotten) != 1 || rep.forgotten[0] != 1000 {
		t.Errorf("forgotten = %v, want [1000]", rep.forgotten)
	}
	finals := rep.finals()
	if len(finals) != 1 || finals[0].Tally != want {
		t.Fatalf("final reports = %+v, want one with %+v", finals, want)
	}
	last := -1
	for _, r := range rep.got {
		done := r.Tally.Delivered + r.Tally.Blocked + r.Tally.Failed
		if done < last {
			t.Errorf("progress went back: %d after %d", done, last)
		}
		last = done
	}
	if len(rep.got) < 5 {
		t.Errorf("%d progress reports for 60 recipients, want one per tenth", len(rep.got))
	}
}

// gate is a sender that blocks every send until released.
type gate struct {
	script
	open chan struct{}
	seen chan int64
}

func (g *gate) Send(ctx context.Context, msg bot.Outgoing) (int, error) {
	g.seen <- msg.ChatID
	<-g.open
	return g.script.Send(ctx, msg)
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g := &gate{script: *newScript(), open: make(chan struct{}), seen: make(chan int64, 100)}
	rep := &reports{}
	e := mustEngine(t, broadcast.Config{Store: memstore.NewBroadcasts(nil), Recipients: members(50), Sender: g,
		Forget: rep, Reporter: rep, Workers: 2, Batch: 1})
	b, _, err := e.Prepare(ctx, coordinator, broadcast.Audience{}, texts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Confirm(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.Resume(ctx) }()
	<-g.seen
	<-g.seen // both workers are sending
	c, err := e.Cancel(ctx, b.ID)
	if err != nil || c.State != broadcast.Cancelled {
		t.Fatalf("Cancel = %s, %v", c.State, err)
	}
	close(g.open)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got, _ := e.Status(ctx, b.ID)
	// The two sends in flight complete and count; nothing else is sent.
	if got.Tally != (broadcast.Tally{Delivered: 2, Pending: 48}) {
		t.Fatalf("after cancel: %+v, want 2 delivered, 48 pending", got.Tally)
	}
	if _, err := e.Cancel(ctx, b.ID); !errors.Is(err, broadcast.ErrState) {
		t.Fatalf("second Cancel err = %v, want ErrState", err)
	}
	if f := rep.finals(); len(f) != 1 || f[0].State != broadcast.Cancelled {
		t.Fatalf("final reports = %+v, want one cancelled", f)
	}
}

func TestNewRequires(t *testing.T) {
	if _, err := broadcast.New(broadcast.Config{Store: memstore.NewBroadcasts(nil)}); err == nil {
		t.Fatal("New without Recipients, Sender, Forget, Coordinator succeeded")
	}
}

// slowAPI accepts a message the moment a send starts, as Telegram does
// when the request arrives, and answers after delay - unless the send's
// context ends first, when the sender sees an error although the
// message went out.
type slowAPI struct {
	delay    time.Duration
	mu       sync.Mutex
	accepted map[int64]int
	inFlight map[int64]int
	overlap  int
	cut      int
}

func (s *slowAPI) Send(ctx context.Context, msg bot.Outgoing) (int, error) {
	s.mu.Lock()
	s.accepted[msg.ChatID]++
	s.inFlight[msg.ChatID]++
	if s.inFlight[msg.ChatID] > 1 {
		s.overlap++
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight[msg.ChatID]--
		s.mu.Unlock()
	}()
	t := time.NewTimer(s.delay)
	defer t.Stop()
	select {
	case <-t.C:
		return 1, nil
	case <-ctx.Done():
		s.mu.Lock()
		s.cut++
		s.mu.Unlock()
		return 0, ctx.Err()
	}
}

func (s *slowAPI) AnswerCallback(context.Context, string, string) error { return nil }

// noExtend hides the store's LeaseExtender.
type noExtend struct{ broadcast.Store }

// TestSlowSendKeepsClaim: sends that take several times the claim's
// lease (Telegram's limits, a slow network) are not cut off while the
// store can extend the claim, so nobody gets the message twice and no
// two workers send to one chat at once. Without extension the same
// sends are cut off at the lease, after the message went out.
func TestSlowSendKeepsClaim(t *testing.T) {
	for _, tc := range []struct {
		name   string
		extend bool
	}{{"extended", true}, {"fixed lease", false}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			api := &slowAPI{delay: 700 * time.Millisecond, accepted: map[int64]int{}, inFlight: map[int64]int{}}
			mem := memstore.NewBroadcasts(nil)
			var store broadcast.Store = mem
			if !tc.extend {
				store = noExtend{mem}
			}
			list := members(6)
			var engines []*broadcast.Engine
			for range 2 { // two replicas
				engines = append(engines, mustEngine(t, broadcast.Config{Store: store, Recipients: list, Sender: api,
					Forget: &reports{}, Workers: 2, Lease: 200 * time.Millisecond, MaxAttempts: 100}))
			}
			b, _, err := engines[0].Prepare(ctx, coordinator, broadcast.Audience{District: "nord"}, texts)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := engines[0].Confirm(ctx, b.ID); err != nil {
				t.Fatal(err)
			}
			if !tc.extend {
				// Cut off every time, it never finishes: one round is
				// enough to show it.
				rctx, rcancel := context.WithTimeout(ctx, 1500*time.Millisecond)
				defer rcancel()
				ctx = rctx
			}
			var wg sync.WaitGroup
			for _, e := range engines {
				wg.Go(func() {
					if err := e.Resume(ctx); err != nil && tc.extend {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			api.mu.Lock()
			defer api.mu.Unlock()
			dups := 0
			for _, m := range list {
				if n := api.accepted[m.ChatID]; n > 1 {
					dups++
				} else if n == 0 && tc.extend {
					t.Errorf("chat %d got nothing", m.ChatID)
				}
			}
			t.Logf("%d chats got the message twice or more, %d sends cut off, %d overlapping sends", dups, api.cut, api.overlap)
			if api.overlap != 0 {
				t.Errorf("%d times two workers sent to one chat at once", api.overlap)
			}
			switch {
			case tc.extend && (dups != 0 || api.cut != 0):
				t.Errorf("with extension: %d duplicates, %d sends cut off, want none", dups, api.cut)
			case !tc.extend && api.cut == 0:
				t.Error("without extension no send was cut off: the test does not show what extension prevents")
			}
			if tc.extend {
				got, err := engines[0].Status(ctx, b.ID)
				if err != nil {
					t.Fatal(err)
				}
				if got.State != broadcast.Done || got.Tally != (broadcast.Tally{Delivered: len(list)}) {
					t.Fatalf("final %s %+v, want done, %d delivered", got.State, got.Tally, len(list))
				}
			}
		})
	}
}
