package storetest

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot"
)

// NewAudienceFunc builds a fresh, empty audience index whose clock is now.
type NewAudienceFunc func(t *testing.T, now func() time.Time) bot.AudienceIndex

// RunAudience runs the conformance suite for bot.AudienceIndex. Each
// subtest gets a fresh index and clock; Advancer is used as in Run.
func RunAudience(t *testing.T, newIndex NewAudienceFunc) {
	runSuite(t, func(t *testing.T, clk *clock) *aenv {
		return &aenv{newStoreEnv(t, clk, newIndex)}
	}, []suiteTest[*aenv]{
		{"RoundTrip", testAudRoundTrip},
		{"Move", testAudMove},
		{"Invalid", testAudInvalid},
		{"Leave", testAudLeave},
		{"Expiry", testAudExpiry},
		{"Renew", testAudRenew},
		{"Paging", testAudPaging},
		{"PagingWhileJoining", testAudPagingChanges},
		{"Concurrent", testAudConcurrent},
	})
}

// aenv is one subtest's audience index and clock.
type aenv struct{ storeEnv[bot.AudienceIndex] }

// member returns user(n) in district, a volunteer if vol, living for ttl.
func (e *aenv) member(n int, district string, vol bool, ttl time.Duration) bot.AudienceMember {
	m := bot.AudienceMember{User: user(n), ChatID: 7770000000 + int64(n), Lang: "ar", District: district, Expires: e.clk.Now().Add(ttl)}
	if vol {
		m.Role = bot.RoleVolunteer
	}
	return m
}

func (e *aenv) mustJoin(ms ...bot.AudienceMember) {
	e.t.Helper()
	for _, m := range ms {
		if err := e.s.Join(e.ctx, m); err != nil {
			e.t.Fatalf("Join(user %s): %v", m.User, err)
		}
	}
}

// mustAll pages through Members(district) and returns every member in
// order of appearance.
func (e *aenv) mustAll(district string, limit int) []bot.AudienceMember {
	e.t.Helper()
	return allPages(e.t, fmt.Sprintf("Members(%q)", district), limit, func(cursor string) ([]bot.AudienceMember, string, error) {
		return e.s.Members(e.ctx, district, cursor, limit)
	})
}

// chatsOf lists the members' chats, sorted.
func chatsOf(ms []bot.AudienceMember) []int64 {
	out := make([]int64, len(ms))
	for i, m := range ms {
		out[i] = m.ChatID
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func (e *aenv) mustChats(district string, want ...int) {
	e.t.Helper()
	got := chatsOf(e.mustAll(district, 100))
	w := make([]int64, len(want))
	for i, n := range want {
		w[i] = 7770000000 + int64(n)
	}
	sort.Slice(w, func(i, j int) bool { return w[i] < w[j] })
	if fmt.Sprint(got) != fmt.Sprint(w) {
		e.t.Fatalf("Members(%q) chats = %v, want %v", district, got, w)
	}
}

func sameMember(a, b bot.AudienceMember) bool {
	return a.User == b.User && a.ChatID == b.ChatID && a.Lang == b.Lang && a.Role == b.Role &&
		a.District == b.District && a.Expires.Equal(b.Expires)
}

func testAudRoundTrip(t *testing.T, e *aenv) {
	a, b, c := e.member(1, "nord", true, 30*day), e.member(2, "sued", false, 30*day), e.member(3, "", false, 30*day)
	e.mustJoin(a, b, c)
	got := e.mustAll("nord", 10)
	if len(got) != 1 || !sameMember(got[0], a) {
		t.Fatalf("Members(nord) = %+v, want %+v", got, a)
	}
	e.mustChats("", 1, 2, 3)
	e.mustChats("sued", 2)
	e.mustChats("west")
}

// testAudMove: joining again replaces the entry; a district left no
// longer lists the member, and everybody lists them once.
func testAudMove(t *testing.T, e *aenv) {
	e.mustJoin(e.member(1, "nord", false, 30*day))
	e.advance(time.Hour)
	moved := e.member(1, "sued", true, 30*day)
	moved.Lang = "uk"
	e.mustJoin(moved)
	e.mustChats("nord")
	got := e.mustAll("sued", 10)
	if len(got) != 1 || !sameMember(got[0], moved) {
		t.Fatalf("Members(sued) = %+v, want %+v", got, moved)
	}
	e.mustChats("", 1)
	// Same instant, other district: still only the last one.
	again := moved
	again.District = "west"
	e.mustJoin(again)
	e.mustChats("sued")
	e.mustChats("west", 1)
	e.mustChats("", 1)
}

func testAudInvalid(t *testing.T, e *aenv) {
	ok := e.member(1, "nord", false, day)
	bad := map[string]func(m *bot.AudienceMember){
		"no user":      func(m *bot.AudienceMember) { m.User = "" },
		"braced user":  func(m *bot.AudienceMember) { m.User = "a{b}" },
		"no chat":      func(m *bot.AudienceMember) { m.ChatID = 0 },
		"no language":  func(m *bot.AudienceMember) { m.Lang = "" },
		"bad district": func(m *bot.AudienceMember) { m.District = "nord:x" },
		"bad role":     func(m *bot.AudienceMember) { m.Role = "Volunteer Role" },
		"expired":      func(m *bot.AudienceMember) { m.Expires = e.clk.Now().Add(-time.Second) },
		"no expiry":    func(m *bot.AudienceMember) { m.Expires = time.Time{} },
	}
	for name, f := range bad {
		m := ok
		f(&m)
		if err := e.s.Join(e.ctx, m); !errors.Is(err, bot.ErrInvalid) {
			t.Errorf("%s: Join = %v, want ErrInvalid", name, err)
		}
	}
	if _, _, err := e.s.Members(e.ctx, "", "", 0); !errors.Is(err, bot.ErrInvalid) {
		t.Errorf("Members with limit 0 = %v, want ErrInvalid", err)
	}
	e.mustChats("")
}

func testAudLeave(t *testing.T, e *aenv) {
	e.mustJoin(e.member(1, "nord", true, day), e.member(2, "nord", false, day))
	if err := e.s.Leave(e.ctx, user(1)); err != nil {
		t.Fatal(err)
	}
	if err := e.s.Leave(e.ctx, user(1)); err != nil {
		t.Fatalf("second Leave: %v", err)
	}
	if err := e.s.Leave(e.ctx, user(99)); err != nil {
		t.Fatalf("Leave of a stranger: %v", err)
	}
	e.mustChats("nord", 2)
	e.mustChats("", 2)
}

// testAudExpiry: a member drops out at its expiry, without anybody
// removing it; the others stay.
func testAudExpiry(t *testing.T, e *aenv) {
	e.mustJoin(e.member(1, "nord", false, day), e.member(2, "nord", false, 3*day))
	e.advance(day - time.Second)
	e.mustChats("nord", 1, 2)
	e.advance(2 * time.Second)
	e.mustChats("nord", 2)
	e.mustChats("", 2)
	e.advance(3 * day)
	e.mustChats("")
	// Joining after everything expired works as on a fresh index.
	e.mustJoin(e.member(1, "nord", false, day))
	e.mustChats("nord", 1)
}

// testAudRenew: joining again extends the entry's life.
func testAudRenew(t *testing.T, e *aenv) {
	e.mustJoin(e.member(1, "nord", false, 2*day))
	e.advance(day)
	e.mustJoin(e.member(1, "nord", false, 2*day))
	e.advance(day + time.Hour)
	e.mustChats("nord", 1)
	e.mustChats("", 1)
	e.advance(day)
	e.mustChats("nord")
}

func testAudPaging(t *testing.T, e *aenv) {
	const n = 230
	for i := range n {
		d := "nord"
		if i%3 == 0 {
			d = "sued"
		}
		// Different expiries, so stores that order by expiry are paged
		// across them.
		e.mustJoin(e.member(i, d, i%2 == 0, 30*day+time.Duration(i%7)*time.Minute))
	}
	for _, limit := range []int{1, 7, 100, 1000} {
		all := e.mustAll("", limit)
		if len(all) != n {
			t.Fatalf("limit %d: %d members, want %d", limit, len(all), n)
		}
		seen := map[bot.UserKey]bool{}
		for _, m := range all {
			if seen[m.User] {
				t.Fatalf("limit %d: user %s twice", limit, m.User)
			}
			seen[m.User] = true
		}
		if got := len(e.mustAll("sued", limit)); got != (n+2)/3 {
			t.Fatalf("limit %d: %d members in sued, want %d", limit, got, (n+2)/3)
		}
	}
}

// testAudPagingChanges: members joining, renewing and leaving during an
// iteration do not make it lose the members that stayed unchanged.
func testAudPagingChanges(t *testing.T, e *aenv) {
	const n = 60
	for i := range n {
		e.mustJoin(e.member(i, "nord", false, 30*day))
	}
	e.advance(time.Minute)
	seen := map[bot.UserKey]int{}
	touched := map[bot.UserKey]bool{}
	cursor := ""
	for page := 0; ; page++ {
		if page > 1000 {
			t.Fatal("iteration does not end")
		}
		ms, next, err := e.s.Members(e.ctx, "nord", cursor, 5)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			seen[m.User]++
		}
		// Meanwhile: one renews, one leaves, one new joins.
		renew, leave := page%n, n-1-page%n
		touched[user(renew)], touched[user(leave)] = true, true
		e.mustJoin(e.member(renew, "nord", false, 30*day))
		if err := e.s.Leave(e.ctx, user(leave)); err != nil {
			t.Fatal(err)
		}
		e.mustJoin(e.member(1000+page, "nord", false, 30*day))
		if next == "" {
			break
		}
		cursor = next
	}
	unchanged := 0
	for i := range n {
		if touched[user(i)] {
			continue
		}
		unchanged++
		if seen[user(i)] != 1 {
			t.Errorf("user %d, unchanged during the iteration, was returned %d times", i, seen[user(i)])
		}
	}
	if unchanged < n/3 {
		t.Fatalf("only %d members stayed unchanged; the test proves little", unchanged)
	}
	for u, k := range seen {
		if k > 2 {
			t.Errorf("user %s returned %d times", u, k)
		}
	}
}

func testAudConcurrent(t *testing.T, e *aenv) {
	const workers, each = 8, 25
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				n := w*each + i
				if err := e.s.Join(e.ctx, e.member(n, "nord", false, day)); err != nil {
					t.Errorf("Join: %v", err)
				}
				if err := e.s.Join(e.ctx, e.member(n, "sued", true, day)); err != nil {
					t.Errorf("Join: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	if got := len(e.mustAll("sued", 50)); got != workers*each {
		t.Fatalf("%d members in sued, want %d", got, workers*each)
	}
	e.mustChats("nord")
	if got := len(e.mustAll("", 50)); got != workers*each {
		t.Fatalf("%d members, want %d", got, workers*each)
	}
}
