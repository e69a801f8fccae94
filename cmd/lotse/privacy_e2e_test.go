package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lotse-bot/lotse/bot/bottest"
)

// TestRunEventsPrivacyRedis runs the real program against the fake Bot API
// and real Redis: what's on, remind me, calendar, nearby, a request to a
// person (closed by staff), /mydata and /forget, as a user whose name and
// texts are canaries (bottest.Canaries). The export covers every key in
// Redis that links to the user; every key has a TTL; after /forget no key
// or value links to the user; the log holds no name, text or id.
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
	name := bottest.CanaryName
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
	say := func(text string) func() { return func() { api.PushTextAs(user, user, "de", name, text) } }
	cb := func(data string) func() { return func() { api.PushCallbackAs(user, user, "de", name, data, 1) } }
	step("Lotse", say("/start"))
	step("Termine", say("/events"))
	step("Internationales Frauenfrühstück", cb("e:internationales-frauenfruehstueck"))
	step("einen Tag und eine Stunde", cb("r:internationales-frauenfruehstueck"))
	step("", cb("c:internationales-frauenfruehstueck"))
	waitDoc(t, r, user, ".ics")
	step("Min. zu Fuß", func() { api.PushLocation(user, user, 51.5702, 6.7498) })
	step("", say("/person"))
	step("", cb("kd:nord"))
	step("", cb("kr:y"))
	step("", cb("kt:housing"))
	step("", say(bottest.CanaryRequest))
	step("K-", cb("ksn"))

	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.Itoa(user)))
	userKey := hex.EncodeToString(m.Sum(nil)[:16])
	refs := rdb.SMembers(context.Background(), ns+":{tk}:u:"+userKey).Val()
	if len(refs) != 1 {
		t.Fatalf("the user's ticket index holds %v, want one request", refs)
	}
	// The desk closes the request, so the export must list closed ones.
	closeByStaff(t, api, rdb, ns, refs[0], 9201, -1009201)

	step("", say("/mydata"))
	doc := waitDoc(t, r, user, ".json")
	checkExportCoversRedis(t, rdb, ns, userKey, user, doc)

	keys := bottest.Keys(t, rdb, ns+":*")
	for k, ttl := range keys {
		if ttl <= 0 {
			t.Errorf("key %s has no TTL", k)
		}
	}

	step("gelöscht", say("/forget"))
	step("nichts gespeichert", say("/forget"))
	time.Sleep(200 * time.Millisecond) // let the last update's bookkeeping finish

	needles := []string{userKey, strconv.Itoa(user), bottest.CanaryText, bottest.CanaryName, "Test"}
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
	for _, n := range append([]string{"Wohnung", strconv.Itoa(user), "Test", secret}, bottest.Canaries...) {
		if strings.Contains(logs, n) {
			t.Errorf("log contains %q", n)
		}
	}
	if v := api.Violations(); len(v) > 0 {
		t.Errorf("flood limits violated: %+v", v)
	}
}

// closeByStaff has staff member uid close ticket ref from the desk chat,
// pressing the buttons the bot posted there (opaque tokens, looked up in
// Redis to find the close button and then an outcome).
func closeByStaff(t *testing.T, api *bottest.FakeAPI, rdb redis.UniversalClient, ns, ref string, uid, chat int64) {
	t.Helper()
	press := func(prefix string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			for k := range bottest.Keys(t, rdb, ns+":cb:*") {
				var tok struct {
					Data string `json:"d"`
				}
				if json.Unmarshal([]byte(rdb.Get(context.Background(), k).Val()), &tok) == nil && strings.HasPrefix(tok.Data, prefix) {
					api.PushCallbackAs(chat, uid, "de", "Aylin", strings.TrimPrefix(k, ns+":cb:"), 1)
					return
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("no button %s* in the desk chat", prefix)
	}
	press("sx:" + ref)
	press("sx:" + ref + ":")
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		raw := rdb.Get(context.Background(), ns+":{tk}:t:"+ref).Val()
		if strings.Contains(raw, `"st":"closed"`) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("ticket %s not closed by staff", ref)
}

// checkExportCoversRedis compares the /mydata export with a scan of
// Redis: every key whose name or value links to the user — their key,
// Telegram id, name or text, or the id of one of their subscriptions or
// requests found in Redis — must be covered by the export: the session
// key by the session section, every other key by a subscription or
// request the export lists. A new kind of per-user record that /mydata
// does not export fails here.
func checkExportCoversRedis(t *testing.T, rdb redis.UniversalClient, ns, userKey string, rawID int64, doc []byte) {
	t.Helper()
	var ex struct {
		Session *struct {
			Language string `json:"language"`
			District string `json:"district"`
		} `json:"session"`
		Consents struct {
			RememberDistrict bool     `json:"remember_district"`
			ShareIdentity    []string `json:"identity_shown_to_staff_in"`
		} `json:"consents"`
		Subscriptions []struct {
			ID string `json:"id"`
		} `json:"subscriptions"`
		Requests []struct {
			Ref   string `json:"ref"`
			State string `json:"state"`
			Text  string `json:"text"`
			Name  string `json:"name_shown_to_staff"`
		} `json:"requests"`
		Audience *struct {
			District string `json:"district"`
		} `json:"announcements"`
	}
	if err := json.Unmarshal(doc, &ex); err != nil {
		t.Fatalf("export is not JSON: %v\n%s", err, doc)
	}
	exported := map[string]bool{}
	for _, s := range ex.Subscriptions {
		exported[s.ID] = true
	}
	for _, r := range ex.Requests {
		exported[r.Ref] = true
		if r.State != "closed" || !strings.Contains(r.Text, bottest.CanaryText) || r.Name != bottest.CanaryName {
			t.Errorf("request exported as %+v, want the closed request with its text and the name", r)
		}
	}
	if ex.Session == nil || ex.Session.Language != "de" || ex.Session.District != "nord" || !ex.Consents.RememberDistrict || len(ex.Consents.ShareIdentity) != 1 {
		t.Errorf("session or consents missing from the export:\n%s", doc)
	}

	vals := map[string]string{}
	for k := range bottest.Keys(t, rdb, ns+":*") {
		vals[k] = dumpValue(t, rdb, k)
	}
	// The ids of the user's records, learnt from Redis itself.
	ids := map[string]string{}
	for _, id := range strings.Split(vals[ns+":{u:"+userKey+"}:subs"], "\x00") {
		if id != "" {
			ids[id] = "subscription"
		}
	}
	for _, ref := range strings.Split(vals[ns+":{tk}:u:"+userKey], "\x00") {
		if ref != "" {
			ids[ref] = "request"
		}
	}
	kinds := map[string]int{}
	for id, kind := range ids {
		kinds[kind]++
		if !exported[id] {
			t.Errorf("%s %s is stored in Redis but missing from /mydata", kind, id)
		}
	}
	if kinds["subscription"] != 1 || kinds["request"] != 1 {
		t.Fatalf("Redis holds %v records of the user; the conversation should have made one subscription and one request", kinds)
	}
	direct := []string{userKey, strconv.FormatInt(rawID, 10), bottest.CanaryName, bottest.CanaryText}
	linked := 0
	for k, v := range vals {
		var via []string
		for _, n := range direct {
			if strings.Contains(k, n) || strings.Contains(v, n) {
				via = append(via, n)
			}
		}
		// The session and the entry in the announcements' audience (with
		// its index members) are single records, covered by their sections.
		covered := k == ns+":{u:"+userKey+"}:s" && ex.Session != nil ||
			strings.HasPrefix(k, ns+":{aud}:") && ex.Audience != nil && ex.Audience.District == "nord"
		for id := range ids {
			if strings.Contains(k, id) || strings.Contains(v, id) {
				via = append(via, id)
				covered = covered || exported[id]
			}
		}
		if len(via) == 0 {
			continue
		}
		linked++
		if !covered {
			t.Errorf("key %s links to the user (%v) but /mydata exports nothing it holds: %.200q", k, via, v)
		}
	}
	t.Logf("%d keys link to the user; the export covers all of them", linked)
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
