package ical

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/language"

	"github.com/lotse-bot/lotse/knowledge"
)

// PathPrefix is where Handler serves the feeds; mount it there
// (mux.Handle(ical.PathPrefix, ical.Handler(live, time.Now))).
const PathPrefix = "/calendar/"

// cacheControl lets phone calendars and proxies keep a feed for an hour;
// the feeds are public and change only when the curators edit events.
const cacheControl = "public, max-age=3600"

// Handler serves the district feeds from the knowledge base live holds:
//
//	GET /calendar/{district}.ics?lang=xx&audience=volunteers
//
// lang is a BCP 47 language tag (default German; texts missing in that
// language fall back as knowledge.Text.In does) and audience optionally one
// of refugees, volunteers, everybody (see Filter). It answers 404 for an
// unknown district, 400 for a malformed or unknown lang or audience and
// 405 for methods other than GET and HEAD. Responses carry a weak ETag
// over everything but DTSTAMP, so that If-None-Match saves clients
// refetching an unchanged feed. now supplies the time for DTSTAMP
// (time.Now if nil).
// Feeds hold curated public data only; the handler reads nothing about
// the person asking and logs nothing.
func Handler(live *knowledge.Live, now func() time.Time) http.Handler {
	if now == nil {
		now = time.Now
	}
	return &handler{live: live, now: now}
}

type handler struct {
	live *knowledge.Live
	now  func() time.Time
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, PathPrefix)
	if ok {
		name, ok = strings.CutSuffix(name, ".ics")
	}
	if !ok || name == "" || strings.Contains(name, "/") {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	lang := "de"
	if s := q.Get("lang"); s != "" {
		l, ok := parseLang(s)
		if !ok {
			http.Error(w, "lang: not a language", http.StatusBadRequest)
			return
		}
		lang = l
	}
	filter := Filter{District: name, Audience: knowledge.Audience(q.Get("audience"))}
	body, err := Feed(h.live.Current(), filter, lang, h.now())
	switch {
	case errors.Is(err, ErrUnknownDistrict):
		http.NotFound(w, r)
		return
	case errors.Is(err, ErrBadAudience):
		http.Error(w, "audience: use refugees, volunteers or everybody", http.StatusBadRequest)
		return
	case err != nil:
		http.Error(w, "calendar unavailable", http.StatusInternalServerError)
		return
	}
	tag := etag(body)
	hd := w.Header()
	hd.Set("ETag", tag)
	hd.Set("Cache-Control", cacheControl)
	if matches(r.Header.Get("If-None-Match"), tag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hd.Set("Content-Type", "text/calendar; charset=utf-8")
	hd.Set("Content-Disposition", `inline; filename="`+name+`.ics"`)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body) //nolint:errcheck // the client went away; nothing to do
	}
}

// parseLang returns the base language of a BCP 47 tag, or false if s is
// malformed, names no known language or leaves the language to be
// guessed ("und-IR").
func parseLang(s string) (string, bool) {
	if len(s) > 35 {
		return "", false
	}
	t, err := language.Parse(s)
	if err != nil {
		return "", false
	}
	b, conf := t.Base()
	if conf != language.Exact {
		return "", false
	}
	return b.String(), true
}

// etag is a weak entity tag over body without its DTSTAMP lines: two
// responses with the same tag differ at most in the time they were
// made, which makes them semantically equivalent (RFC 9110 8.8.1).
func etag(body []byte) string {
	h := sha256.New()
	for line := range bytes.Lines(body) {
		if !bytes.HasPrefix(line, []byte("DTSTAMP:")) {
			h.Write(line)
		}
	}
	return `W/"` + hex.EncodeToString(h.Sum(nil)[:16]) + `"`
}

// matches reports whether an If-None-Match header value matches tag,
// using the weak comparison RFC 9110 13.1.2 prescribes.
func matches(header, tag string) bool {
	if header == "" {
		return false
	}
	opaque := strings.TrimPrefix(tag, "W/")
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == opaque {
			return true
		}
	}
	return false
}
