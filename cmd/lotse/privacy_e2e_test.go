package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lotse-bot/lotse/bot/bottest"
)

// TestRunEventsPrivacyRedis runs the real program against the fake Bot API
// and real Redis: what's on, remind me, calendar, nearby, a request to a
// person, /mydata and /forget. Afterwards every key has a TTL, and after
// /forget no key or value links to the user.
func TestRunEventsPrivacyRedis(t *testing.T) {
	rdb := bottest.Redis(t)
	ns := bottest.Namespace(t, rdb)
	addr := rdb.(*redis.Client).Options().Addr
	secret := strings.Repeat("k", 32)
	api := bottest.NewFakeAPI(t)
	for _, c := range []int64{-1001001, -1001101, -1001501, -1009001, -1009201} {
		api.AddChat(c, "supergroup")
	}
	r := startLotseWith(t, api, map[string]string{
		"REDIS_URL":        "redis://" + addr + "/0",
		"LOTSE_SECRET":     secret,
		"LOTSE_NAMESPACE":  ns,
		"LOTSE_STAFF_FILE": "../../bot/staffconfig/demo.yaml",
		"LOTSE_LOG_LEVEL":  "debug",
	})
	const user = 7350917
	const text = "Ich suche dringend eine Wohnung quxwerty"
	// step pushes one update once the previous reply arrived, paced under
	// the bot's per-user flood limit (5 at once, then one per 2 s), and
	// waits for a reply containing want ("" for any reply).
	n := 0
	step := func(want string, push func()) {
		t.Helper()
		if n++; n > 4 {
			time.Sleep(2 * time.Second)
		}
		before := len(api.Sent(user))
		push()
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			for _, m := range api.Sent(user)[before:] {
				if strings.Contains(m.Text, want) || m.Document != nil && want == "" {
					return
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatalf("step %d: no reply containing %q; sent: %+v\nlog:\n%s", n, want, api.Sent(user)[before:], r.logs.String())
	}
	cb := func(data string) func() { return func() { api.PushCallback(user, user, "de", data, 1) } }
	step("Lotse", func() { api.PushText(user, user, "de", "/start") })
	step("Termine", func() { api.PushText(user, user, "de", "/events") })
	step("Internationales Frauenfrühstück", cb("e:internationales-frauenfruehstueck"))
	step("einen Tag und eine Stunde", cb("r:internationales-frauenfruehstueck"))
	step("", cb("c:internationales-frauenfruehstueck"))
	waitDoc(t, r, user, ".ics")
	step("Min. zu Fuß", func() { api.PushLocation(user, user, 51.5702, 6.7498) })
	step("", func() { api.PushText(user, user, "de", "/person") })
	step("", cb("kd:nord"))
	step("", cb("kr:y"))
	step("", cb("kt:housing"))
	step("", func() { api.PushText(user, user, "de", text) })
	step("K-", cb("ksn"))
	step("", func() { api.PushText(user, user, "de", "/mydata") })
	if doc := waitDoc(t, r, user, ".json"); !strings.Contains(string(doc), "quxwerty") {
		t.Errorf("export lacks the request text:\n%s", doc)
	}

	keys := bottest.Keys(t, rdb, ns+":*")
	for k, ttl := range keys {
		if ttl <= 0 {
			t.Errorf("key %s has no TTL", k)
		}
	}

	step("gelöscht", func() { api.PushText(user, user, "de", "/forget") })
	step("nichts gespeichert", func() { api.PushText(user, user, "de", "/forget") })
	time.Sleep(200 * time.Millisecond) // let the last update's bookkeeping finish

	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.Itoa(user)))
	userKey := hex.EncodeToString(m.Sum(nil)[:16])
	needles := []string{userKey, strconv.Itoa(user), "quxwerty", "Test"}
	// The session of the second /forget is not saved either, so nothing
	// at all may mention the user.
	for k := range bottest.Keys(t, rdb, ns+":*") {
		val := dumpValue(t, rdb, k)
		for _, n := range needles {
			if strings.Contains(k, n) || strings.Contains(val, n) {
				t.Errorf("after /forget, key %s links to the user (%q)", k, n)
			}
		}
	}
	if code := r.stop(); code != exitOK {
		t.Errorf("exit code %d", code)
	}
	logs := r.logs.String()
	for _, n := range []string{"quxwerty", "Wohnung", strconv.Itoa(user), "Test", secret} {
		if strings.Contains(logs, n) {
			t.Errorf("log contains %q", n)
		}
	}
	if v := api.Violations(); len(v) > 0 {
		t.Errorf("flood limits violated: %+v", v)
	}
}

// waitDoc waits for a document to chat whose name ends in suffix.
func waitDoc(t *testing.T, r *running, chat int64, suffix string) []byte {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range r.api.Sent(chat) {
			if m.Document != nil && strings.HasSuffix(m.Document.Name, suffix) {
				return m.Document.Content
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no %s document to chat %d", suffix, chat)
	return nil
}

// dumpValue reads a key's value, whatever its type, as text.
func dumpValue(t *testing.T, rdb redis.UniversalClient, key string) string {
	t.Helper()
	ctx := context.Background()
	typ, err := rdb.Type(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	switch typ {
	case "string":
		s, _ := rdb.Get(ctx, key).Result()
		parts = append(parts, s)
	case "hash":
		for f, v := range rdb.HGetAll(ctx, key).Val() {
			parts = append(parts, f, v)
		}
	case "set":
		parts = rdb.SMembers(ctx, key).Val()
	case "zset":
		parts = rdb.ZRange(ctx, key, 0, -1).Val()
	case "list":
		parts = rdb.LRange(ctx, key, 0, -1).Val()
	case "stream":
		for _, m := range rdb.XRange(ctx, key, "-", "+").Val() {
			for f, v := range m.Values {
				parts = append(parts, f, strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(toString(v), "\n", " "), "\t", " ")))
			}
		}
	}
	return strings.Join(parts, "\x00")
}

func toString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return ""
}
