package ical_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	goical "github.com/emersion/go-ical"

	"github.com/lotse-bot/lotse/knowledge"
	"github.com/lotse-bot/lotse/knowledge/ical"
)

// feedServer serves Handler on loopback with a clock the test moves.
type feedServer struct {
	*httptest.Server
	live  *knowledge.Live
	clock atomic.Int64 // Unix seconds
}

func newFeedServer(t *testing.T, kb *knowledge.KB) *feedServer {
	t.Helper()
	s := &feedServer{live: knowledge.NewLive(kb)}
	s.clock.Store(time.Date(2026, 10, 20, 8, 30, 0, 0, time.UTC).Unix())
	mux := http.NewServeMux()
	mux.Handle(ical.PathPrefix, ical.Handler(s.live, func() time.Time { return time.Unix(s.clock.Load(), 0) }))
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func (s *feedServer) do(t *testing.T, method, path string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestHandlerStatus(t *testing.T) {
	s := newFeedServer(t, mustSample(t))
	tests := []struct {
		method, path string
		status       int
	}{
		{"GET", "/calendar/nord.ics", http.StatusOK},
		{"GET", "/calendar/nord.ics?lang=ar", http.StatusOK},
		{"GET", "/calendar/nord.ics?lang=uk-UA", http.StatusOK},
		{"GET", "/calendar/nord.ics?lang=EN", http.StatusOK},
		{"GET", "/calendar/nord.ics?audience=volunteers", http.StatusOK},
		{"HEAD", "/calendar/nord.ics", http.StatusOK},
		{"GET", "/calendar/atlantis.ics", http.StatusNotFound},
		{"GET", "/calendar/runder-tisch-nord.ics", http.StatusNotFound}, // an event, not a district
		{"GET", "/calendar/nord", http.StatusNotFound},
		{"GET", "/calendar/.ics", http.StatusNotFound},
		{"GET", "/calendar/nord/x.ics", http.StatusNotFound},
		{"GET", "/calendar/..%2fnord.ics", http.StatusNotFound},
		{"GET", "/calendar/nord.ics?lang=xx", http.StatusBadRequest},
		{"GET", "/calendar/nord.ics?lang=%3Cscript%3E", http.StatusBadRequest},
		{"GET", "/calendar/nord.ics?lang=und", http.StatusBadRequest},
		{"GET", "/calendar/nord.ics?lang=" + strings.Repeat("a", 100), http.StatusBadRequest},
		{"GET", "/calendar/nord.ics?audience=tourists", http.StatusBadRequest},
		{"POST", "/calendar/nord.ics", http.StatusMethodNotAllowed},
		{"DELETE", "/calendar/nord.ics", http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			resp, body := s.do(t, tt.method, tt.path)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if tt.status != http.StatusOK {
				if strings.Contains(body, "BEGIN:VCALENDAR") {
					t.Error("error response holds a calendar")
				}
				return
			}
			if got := resp.Header.Get("Content-Type"); got != "text/calendar; charset=utf-8" {
				t.Errorf("Content-Type = %q", got)
			}
			if resp.Header.Get("Cache-Control") == "" || !strings.HasPrefix(resp.Header.Get("ETag"), `W/"`) {
				t.Errorf("Cache-Control %q, ETag %q", resp.Header.Get("Cache-Control"), resp.Header.Get("ETag"))
			}
			if tt.method == "HEAD" {
				if body != "" {
					t.Error("HEAD response has a body")
				}
				return
			}
			mustParse(t, []byte(body))
		})
	}
}

// TestHandlerServesFeed checks that the handler serves exactly Feed's
// calendar for the query.
func TestHandlerServesFeed(t *testing.T) {
	kb := mustSample(t)
	s := newFeedServer(t, kb)
	now := time.Unix(s.clock.Load(), 0)
	_, body := s.do(t, "GET", "/calendar/nord.ics?lang=fa-AF&audience=refugees")
	want := mustFeed(t, kb, ical.Filter{District: "nord", Audience: knowledge.AudienceRefugees}, "fa", now)
	if body != string(want) {
		t.Errorf("served feed differs from Feed:\n%s", body)
	}
	cal := mustParse(t, []byte(body))
	if len(cal.Events()) == 0 {
		t.Error("feed of Nord has no events")
	}
	if name := mustText(t, cal.Component, "X-WR-CALNAME"); !strings.Contains(name, mustEntry(t, kb, "nord").NameDE) {
		t.Errorf("X-WR-CALNAME = %q", name)
	}
	for _, ev := range cal.Events() {
		if v := ev.Props.Get(goical.PropDateTimeStamp).Value; v != now.UTC().Format("20060102T150405Z") {
			t.Errorf("DTSTAMP %s, want the handler's clock", v)
		}
	}
}

func TestHandlerConditional(t *testing.T) {
	s := newFeedServer(t, mustSample(t))
	const path = "/calendar/nord.ics?lang=de"
	resp, body := s.do(t, "GET", path)
	tag := resp.Header.Get("ETag")

	// Later, only DTSTAMP changes: the tag stays, and a client holding it
	// gets 304 without a body.
	s.clock.Add(3600)
	resp2, body2 := s.do(t, "GET", path)
	if body2 == body {
		t.Error("DTSTAMP did not follow the clock")
	}
	if resp2.Header.Get("ETag") != tag {
		t.Errorf("ETag changed with the clock alone: %s, %s", tag, resp2.Header.Get("ETag"))
	}
	for _, inm := range []string{tag, strings.TrimPrefix(tag, "W/"), `"other", ` + tag, "*"} {
		resp, body := s.do(t, "GET", path, "If-None-Match", inm)
		if resp.StatusCode != http.StatusNotModified || body != "" {
			t.Errorf("If-None-Match %s: status %d, %d bytes; want 304, none", inm, resp.StatusCode, len(body))
		}
		if resp.Header.Get("ETag") != tag {
			t.Errorf("304 without the ETag")
		}
	}
	if resp, _ := s.do(t, "GET", path, "If-None-Match", `W/"stale"`); resp.StatusCode != http.StatusOK {
		t.Errorf("stale If-None-Match: status %d, want 200", resp.StatusCode)
	}

	// Another language or audience is another representation.
	if resp, _ := s.do(t, "GET", "/calendar/nord.ics?lang=en"); resp.Header.Get("ETag") == tag {
		t.Error("English feed has the German feed's ETag")
	}

	// A reloaded knowledge base with other events changes the tag, and
	// the handler serves it at once.
	rich := mustRich(t, "Europe/Berlin")
	if err := s.live.Reload(func() (*knowledge.KB, error) { return rich, nil }); err != nil {
		t.Fatal(err)
	}
	resp3, body3 := s.do(t, "GET", path)
	if resp3.StatusCode != http.StatusOK || resp3.Header.Get("ETag") == tag {
		t.Errorf("after reload: status %d, ETag %s (before %s)", resp3.StatusCode, resp3.Header.Get("ETag"), tag)
	}
	if !strings.Contains(body3, "treff-nord.w1@") {
		t.Error("after reload the feed lacks the new knowledge base's events")
	}
}
