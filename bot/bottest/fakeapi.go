package bottest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// FakeConfig configures a FakeAPI. Zero values mean the defaults noted.
type FakeConfig struct {
	// Token the fake accepts (default "123456:TEST-token-abcdefghij").
	// Calls with another token get 401 Unauthorized.
	Token string
	// BotID and BotUsername describe the bot in getMe (default 123456,
	// "lotse_test_bot").
	BotID       int64
	BotUsername string
	// MaxPollWait caps getUpdates long polling, so tests do not wait for
	// a client's full timeout (default 1s).
	MaxPollWait time.Duration
	// IgnoreTimeout makes getUpdates answer at once even when there is
	// nothing to return, like a server that does not long-poll.
	IgnoreTimeout bool
	// Limits are the flood limits the fake enforces.
	Limits FakeLimits

	// Faults injected at random, drawn from a RNG seeded with Seed:
	// the probability of a 429, a 5xx and a dropped connection per call
	// (getMe and getUpdates excluded unless FaultPolling).
	Seed         uint64
	P429, P5xx   float64
	PDrop        float64
	FaultPolling bool
	// Latency delays every answer.
	Latency time.Duration
}

// FakeLimits are Telegram's flood limits (Bots FAQ) as the fake applies
// them to sendMessage, sendVenue, sendLocation and sendDocument. A call
// over a limit gets 429 with retry_after and counts as a violation.
type FakeLimits struct {
	// Disabled turns limit checks off.
	Disabled bool
	// PerChat is the interval between messages to one private chat
	// (default 1s), after a burst of PerChatBurst (default 3).
	PerChat      time.Duration
	PerChatBurst int
	// GlobalPerSecond is the overall messages per second (default 30).
	GlobalPerSecond int
	// GroupPerWindow messages per GroupWindow in a group (default 20
	// per minute).
	GroupPerWindow int
	GroupWindow    time.Duration
	// Slack is the timing tolerance for network jitter between a
	// client's limiter and the fake (default 5% of the interval).
	Slack float64
}

// FakeOption changes a FakeConfig.
type FakeOption func(*FakeConfig)

// Call is one request the fake received.
type Call struct {
	Method string
	Params url.Values
	// Status is the HTTP status answered (0 if the connection was
	// dropped).
	Status int
	At     time.Time
}

// SentMessage is a message the fake accepted.
type SentMessage struct {
	Method    string // sendMessage, sendVenue, sendLocation, sendDocument
	ChatID    int64
	MessageID int
	Text      string // text, or caption of a document
	ParseMode string
	ReplyTo   int
	Markup    *tgbotapi.InlineKeyboardMarkup
	Venue     *tgbotapi.Venue
	Location  *tgbotapi.Location
	Document  *SentDocument
	// FileID is the file_id of a photo or document sent by id (not
	// uploaded).
	FileID string
	Edited bool
	// ThreadID is the forum topic the message was posted into
	// (message_thread_id; 0: none).
	ThreadID int
}

// SentDocument is an uploaded file.
type SentDocument struct {
	Name    string
	Content []byte
}

// APIError is an error answer the fake gave because a request was
// invalid (not an injected fault).
type APIError struct {
	Method      string
	Code        int
	Description string
}

// Violation is a request over a flood limit.
type Violation struct {
	Kind   string // "chat", "group" or "global"
	ChatID int64
	At     time.Time
}

// Fault is a failure injected into the next calls of a method.
type Fault struct {
	// Status to answer: 429 (with RetryAfter seconds, default 1) or a
	// 5xx. HTML makes the body a proxy's HTML page instead of JSON.
	Status     int
	RetryAfter int
	HTML       bool
	// Drop closes the connection without an answer.
	Drop bool
	// Delay is waited before the fault (or the normal answer, if Status
	// is 0 and Drop false).
	Delay time.Duration
}

// FakeAPI is a fake Telegram Bot API on a loopback httptest server. It
// validates requests like the real API, enforces flood limits, injects
// faults and records everything, so transport tests can assert "zero API
// errors" and "every callback answered". It is safe for concurrent use.
type FakeAPI struct {
	logf func(format string, args ...any)
	cfg  FakeConfig
	srv  *httptest.Server

	closed    chan struct{}
	closeOnce sync.Once
	conns     atomic.Int64 // connections accepted (Conns)

	mu        sync.Mutex
	changed   chan struct{} // closed and replaced on every state change
	rng       *rand.Rand
	nextID    int
	updates   []tgbotapi.Update // unconfirmed
	confirmed int               // highest confirmed update id
	chats     map[int64]string  // id → type
	blocked   map[int64]bool
	calls     []Call
	sent      []SentMessage
	nextMsg   map[int64]int
	callbacks map[string]bool // id → answered
	commands  map[string][]tgbotapi.BotCommand
	webhook   string
	errors    []APIError
	viol      []Violation
	faults    map[string][]Fault
	chatHist  map[int64][]time.Time // groups: recent sends
	chatTAT   map[int64]time.Time   // private chats: GCRA state
	cbSeq     int
	global    []time.Time
	forums    map[int64]bool               // chats with topics (MarkForum)
	topics    map[int64]map[int]*FakeTopic // chat → thread → topic
	inTopic   map[int]fakeThread           // update id → its message's topic fields
}

// FakeTopic is a forum topic the fake holds.
type FakeTopic struct {
	Thread int
	Name   string
	Closed bool
}

type fakeThread struct {
	thread  int
	isTopic bool
}

// NewFakeAPI starts a fake Bot API; it is shut down when the test ends.
func NewFakeAPI(t testing.TB, opts ...FakeOption) *FakeAPI {
	t.Helper()
	f := startFake(t.Logf, opts)
	t.Cleanup(f.Close)
	return f
}

// StartFakeAPI starts a fake Bot API outside a test, for load and fault
// runs (lotse bench, lotse chaos). It listens on 127.0.0.1 only; logf
// receives the fake's own problems (nil: discarded). Call Close when done.
func StartFakeAPI(logf func(format string, args ...any), opts ...FakeOption) *FakeAPI {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	return startFake(logf, opts)
}

// Close ends pending long polls and shuts the server down. It is
// idempotent; NewFakeAPI's fakes are closed when their test ends.
func (f *FakeAPI) Close() {
	f.closeOnce.Do(func() {
		close(f.closed) // ends pending long polls, so Close does not wait
		f.srv.Close()
	})
}

func startFake(logf func(format string, args ...any), opts []FakeOption) *FakeAPI {
	cfg := FakeConfig{}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.Token == "" {
		cfg.Token = "123456:TEST-token-abcdefghij"
	}
	if cfg.BotID == 0 {
		cfg.BotID = 123456
	}
	if cfg.BotUsername == "" {
		cfg.BotUsername = "lotse_test_bot"
	}
	if cfg.MaxPollWait <= 0 {
		cfg.MaxPollWait = time.Second
	}
	l := &cfg.Limits
	if l.PerChat <= 0 {
		l.PerChat = time.Second
	}
	if l.PerChatBurst <= 0 {
		l.PerChatBurst = 3
	}
	if l.GlobalPerSecond <= 0 {
		l.GlobalPerSecond = 30
	}
	if l.GroupPerWindow <= 0 {
		l.GroupPerWindow = 20
	}
	if l.GroupWindow <= 0 {
		l.GroupWindow = time.Minute
	}
	if l.Slack <= 0 {
		l.Slack = 0.05
	}
	f := &FakeAPI{
		logf:      logf,
		cfg:       cfg,
		closed:    make(chan struct{}),
		changed:   make(chan struct{}),
		rng:       rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		nextID:    100000,
		chats:     make(map[int64]string),
		blocked:   make(map[int64]bool),
		nextMsg:   make(map[int64]int),
		callbacks: make(map[string]bool),
		commands:  make(map[string][]tgbotapi.BotCommand),
		faults:    make(map[string][]Fault),
		chatHist:  make(map[int64][]time.Time),
		chatTAT:   make(map[int64]time.Time),
		forums:    make(map[int64]bool),
		topics:    make(map[int64]map[int]*FakeTopic),
		inTopic:   make(map[int]fakeThread),
	}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	f.srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			f.conns.Add(1)
		}
	}
	f.srv.Start()
	return f
}

// Conns is the number of connections clients opened to the fake so far:
// a client that keeps its connections alive opens about as many as it
// makes calls at once.
func (f *FakeAPI) Conns() int64 { return f.conns.Load() }

// Endpoint is the API URL format for tgbotapi (token, then method).
func (f *FakeAPI) Endpoint() string { return f.srv.URL + "/bot%s/%s" }

// Token is the token the fake accepts.
func (f *FakeAPI) Token() string { return f.cfg.Token }

// URL is the server's base URL.
func (f *FakeAPI) URL() string { return f.srv.URL }

// BotUsername is the bot's username in getMe.
func (f *FakeAPI) BotUsername() string { return f.cfg.BotUsername }

// notify wakes everyone waiting for a change. f.mu is held.
func (f *FakeAPI) notify() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// AddChat makes a chat known, so messages can be sent to it; typ is
// "private", "group", "supergroup" or "channel".
func (f *FakeAPI) AddChat(chatID int64, typ string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.chats[chatID] = typ
}

// Block makes sends to chatID fail with 403, as after the user blocked
// the bot.
func (f *FakeAPI) Block(chatID int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.blocked[chatID] = true
}

// chatType derives a chat type from its id like Telegram: users are
// positive, supergroups and channels -100..., basic groups negative.
func chatType(id int64) string {
	switch {
	case id > 0:
		return "private"
	case id <= -1000000000000:
		return "supergroup"
	}
	return "group"
}

// PushUpdate queues u for getUpdates, assigning the next update id (its
// UpdateID is overwritten), and returns that id. Chats in the update
// become known.
func (f *FakeAPI) PushUpdate(u tgbotapi.Update) int { return f.push(u, nil) }

// push is PushUpdate; th, if not nil, are the topic fields of u's
// message (fakeforum.go).
func (f *FakeAPI) push(u tgbotapi.Update, th *fakeThread) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	u.UpdateID = f.nextID
	if th != nil {
		f.inTopic[u.UpdateID] = *th
	}
	for _, m := range []*tgbotapi.Message{u.Message, u.EditedMessage, u.ChannelPost, u.EditedChannelPost} {
		if m != nil && m.Chat != nil {
			f.chats[m.Chat.ID] = m.Chat.Type
		}
	}
	if q := u.CallbackQuery; q != nil {
		f.callbacks[q.ID] = false
		if q.Message != nil && q.Message.Chat != nil {
			f.chats[q.Message.Chat.ID] = q.Message.Chat.Type
		}
	}
	f.updates = append(f.updates, u)
	f.notify()
	return u.UpdateID
}

func (f *FakeAPI) message(chatID, userID int64, lang string) *tgbotapi.Message {
	typ := chatType(chatID)
	f.mu.Lock()
	f.nextMsg[chatID]++
	id := f.nextMsg[chatID]
	f.mu.Unlock()
	return &tgbotapi.Message{
		MessageID: id,
		From:      &tgbotapi.User{ID: userID, FirstName: "Test", LanguageCode: lang},
		Date:      int(time.Now().Unix()),
		Chat:      &tgbotapi.Chat{ID: chatID, Type: typ},
	}
}

// PushText queues a text message from userID in chatID and returns its
// update id. A text starting with "/" gets a bot_command entity.
func (f *FakeAPI) PushText(chatID, userID int64, lang, text string) int {
	m := f.message(chatID, userID, lang)
	m.Text = text
	if strings.HasPrefix(text, "/") {
		word, _, _ := strings.Cut(text, " ")
		m.Entities = []tgbotapi.MessageEntity{{Type: "bot_command", Offset: 0, Length: utf16Len(word)}}
	}
	return f.PushUpdate(tgbotapi.Update{Message: m})
}

// PushLocation queues a shared location and returns its update id.
func (f *FakeAPI) PushLocation(chatID, userID int64, lat, lon float64) int {
	m := f.message(chatID, userID, "")
	m.Location = &tgbotapi.Location{Latitude: lat, Longitude: lon}
	return f.PushUpdate(tgbotapi.Update{Message: m})
}

// PushCallback queues a press of a button with data on message
// messageID and returns the update id and the callback query id.
func (f *FakeAPI) PushCallback(chatID, userID int64, lang, data string, messageID int) (updateID int, callbackID string) {
	m := &tgbotapi.Message{
		MessageID: messageID,
		From:      &tgbotapi.User{ID: f.cfg.BotID, IsBot: true, FirstName: "Lotse", UserName: f.cfg.BotUsername},
		Date:      int(time.Now().Unix()),
		Chat:      &tgbotapi.Chat{ID: chatID, Type: chatType(chatID)},
	}
	f.mu.Lock()
	f.cbSeq++
	callbackID = "cb" + strconv.Itoa(f.cbSeq)
	f.mu.Unlock()
	updateID = f.PushUpdate(tgbotapi.Update{CallbackQuery: &tgbotapi.CallbackQuery{
		ID:           callbackID,
		From:         &tgbotapi.User{ID: userID, FirstName: "Test", LanguageCode: lang},
		Message:      m,
		ChatInstance: "ci",
		Data:         data,
	}})
	return updateID, callbackID
}

// Pending returns the ids of updates not yet confirmed by getUpdates.
func (f *FakeAPI) Pending() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	ids := make([]int, len(f.updates))
	for i, u := range f.updates {
		ids[i] = u.UpdateID
	}
	return ids
}

// Calls returns the calls of method ("" for all), oldest first.
func (f *FakeAPI) Calls(method string) []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Call
	for _, c := range f.calls {
		if method == "" || c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// Sent returns the messages accepted for chatID (0 for all chats), in
// the order they were accepted. Edits appear as extra entries.
func (f *FakeAPI) Sent(chatID int64) []SentMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []SentMessage
	for _, m := range f.sent {
		if chatID == 0 || m.ChatID == chatID {
			out = append(out, m)
		}
	}
	return out
}

// WaitSent waits until at least n messages have been accepted in all
// chats together, or ctx is done.
func (f *FakeAPI) WaitSent(ctx context.Context, n int) error {
	return f.wait(ctx, func() bool { return len(f.sent) >= n })
}

// WaitCalls waits until method was called at least n times.
func (f *FakeAPI) WaitCalls(ctx context.Context, method string, n int) error {
	return f.wait(ctx, func() bool {
		k := 0
		for _, c := range f.calls {
			if c.Method == method {
				k++
			}
		}
		return k >= n
	})
}

// WaitConfirmed waits until update id has been confirmed.
func (f *FakeAPI) WaitConfirmed(ctx context.Context, id int) error {
	return f.wait(ctx, func() bool { return f.confirmed >= id })
}

func (f *FakeAPI) wait(ctx context.Context, cond func() bool) error {
	for {
		f.mu.Lock()
		ok := cond()
		ch := f.changed
		f.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// Errors returns the error answers given for invalid requests (not
// injected faults and not flood-limit 429s, see Violations).
func (f *FakeAPI) Errors() []APIError {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]APIError(nil), f.errors...)
}

// BadRequests returns the 400 answers among Errors.
func (f *FakeAPI) BadRequests() []APIError {
	var out []APIError
	for _, e := range f.Errors() {
		if e.Code == http.StatusBadRequest {
			out = append(out, e)
		}
	}
	return out
}

// Violations returns the requests refused for exceeding a flood limit.
func (f *FakeAPI) Violations() []Violation {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Violation(nil), f.viol...)
}

// Callbacks reports how many callback queries were pushed and how many
// of them were answered.
func (f *FakeAPI) Callbacks() (received, answered int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ok := range f.callbacks {
		received++
		if ok {
			answered++
		}
	}
	return received, answered
}

// Commands returns the commands set for language code lang.
func (f *FakeAPI) Commands(lang string) []tgbotapi.BotCommand {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]tgbotapi.BotCommand(nil), f.commands[lang]...)
}

// FailNext makes the next len(faults) calls of method fail as given,
// in order.
func (f *FakeAPI) FailNext(method string, faults ...Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults[method] = append(f.faults[method], faults...)
}

// --- HTTP side ---

type answer struct {
	status int
	body   any    // result on success
	raw    []byte // or the whole answer, already encoded
	desc   string
	retry  int
	html   bool
	drop   bool
}

func okAnswer(result any) answer { return answer{status: http.StatusOK, body: result} }

func errAnswer(status int, desc string) answer { return answer{status: status, desc: desc} }

func (f *FakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	token, method, ok := parsePath(r.URL.Path)
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		ok = false
	}
	params, perr := readParams(r)
	call := Call{Method: method, Params: params, At: time.Now()}

	var a answer
	switch {
	case !ok:
		a = errAnswer(http.StatusNotFound, "Not Found")
	case token != f.cfg.Token:
		a = errAnswer(http.StatusUnauthorized, "Unauthorized")
	case perr != nil:
		a = errAnswer(http.StatusBadRequest, "Bad Request: "+perr.Error())
	default:
		if fault, ok := f.fault(method); ok {
			if fault.Delay > 0 {
				f.sleep(r.Context(), fault.Delay)
			}
			switch {
			case fault.Drop:
				a = answer{drop: true}
			case fault.Status == http.StatusTooManyRequests:
				retry := max(fault.RetryAfter, 1)
				a = answer{status: fault.Status, desc: "Too Many Requests: retry after " + strconv.Itoa(retry), retry: retry}
			case fault.Status != 0:
				a = answer{status: fault.Status, desc: http.StatusText(fault.Status), html: fault.HTML}
			}
		}
		if a.status == 0 && !a.drop {
			if f.cfg.Latency > 0 {
				f.sleep(r.Context(), f.cfg.Latency)
			}
			a = f.dispatch(r.Context(), method, params, r)
		}
	}

	f.mu.Lock()
	call.Status = a.status
	f.calls = append(f.calls, call)
	f.notify()
	f.mu.Unlock()
	f.write(w, a)
}

func (f *FakeAPI) sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	case <-f.closed:
	}
}

// fault picks the injected fault for this call, if any.
func (f *FakeAPI) fault(method string) (Fault, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if q := f.faults[method]; len(q) > 0 {
		f.faults[method] = q[1:]
		return q[0], true
	}
	if (method == "getUpdates" || method == "getMe") && !f.cfg.FaultPolling {
		return Fault{}, false
	}
	x := f.rng.Float64()
	switch {
	case x < f.cfg.P429:
		return Fault{Status: http.StatusTooManyRequests, RetryAfter: 1}, true
	case x < f.cfg.P429+f.cfg.P5xx:
		return Fault{Status: []int{500, 502, 503}[f.rng.IntN(3)], HTML: f.rng.IntN(2) == 0}, true
	case x < f.cfg.P429+f.cfg.P5xx+f.cfg.PDrop:
		return Fault{Drop: true}, true
	}
	return Fault{}, false
}

func (f *FakeAPI) write(w http.ResponseWriter, a answer) {
	if a.drop {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler) // closes the connection without an answer
	}
	if a.html {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(a.status)
		fmt.Fprintf(w, "<html><body><h1>%d %s</h1></body></html>", a.status, http.StatusText(a.status))
		return
	}
	if a.raw != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.status)
		if _, err := w.Write(a.raw); err != nil {
			f.logf("fakeapi: write answer: %v", err)
		}
		return
	}
	var body map[string]any
	if a.status == http.StatusOK {
		body = map[string]any{"ok": true, "result": a.body}
	} else {
		body = map[string]any{"ok": false, "error_code": a.status, "description": a.desc}
		if a.retry > 0 {
			body["parameters"] = map[string]any{"retry_after": a.retry}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	if err := json.NewEncoder(w).Encode(body); err != nil {
		f.logf("fakeapi: write answer: %v", err)
	}
}

// parsePath splits "/bot<token>/<method>".
func parsePath(p string) (token, method string, ok bool) {
	rest, ok := strings.CutPrefix(p, "/bot")
	if !ok {
		return "", "", false
	}
	i := strings.LastIndex(rest, "/")
	if i <= 0 || i == len(rest)-1 {
		return "", "", false
	}
	return rest[:i], rest[i+1:], true
}

// readParams reads query, urlencoded or multipart parameters; uploaded
// files appear as "<field>" = filename and "<field>.content" = bytes.
func readParams(r *http.Request) (url.Values, error) {
	ct := r.Header.Get("Content-Type")
	if strings.HasPrefix(ct, "multipart/form-data") {
		if err := r.ParseMultipartForm(64 << 20); err != nil {
			return url.Values{}, fmt.Errorf("can't parse multipart: %v", err)
		}
		v := url.Values{}
		for k, vs := range r.MultipartForm.Value {
			v[k] = vs
		}
		for k, fhs := range r.MultipartForm.File {
			for _, fh := range fhs {
				file, err := fh.Open()
				if err != nil {
					return v, err
				}
				b, err := io.ReadAll(file)
				file.Close()
				if err != nil {
					return v, err
				}
				v.Add(k, fh.Filename)
				v.Add(k+".content", string(b))
			}
		}
		return v, nil
	}
	if mt, _, _ := mime.ParseMediaType(ct); mt == "application/json" {
		return readJSONParams(r)
	}
	postErr := readURLEncoded(r)
	err := r.ParseForm()
	if postErr != nil {
		err = postErr // the body's error comes first, as in ParseForm
	}
	if err != nil {
		return url.Values{}, fmt.Errorf("can't parse form: %v", err)
	}
	return r.Form, nil
}

// maxFormSize is net/http's limit on an urlencoded body.
const maxFormSize = 10 << 20

// readURLEncoded is the body part of r.ParseForm for an urlencoded POST
// of known length: it reads the body into a buffer of that length where
// ParseForm's io.ReadAll grows one step by step, which made reading the
// bots' messages (a few kB with their keyboards) the fake's largest
// allocation. It sets r.PostForm as ParseForm would, so that ParseForm
// only adds the URL's query; other requests it leaves to ParseForm.
func readURLEncoded(r *http.Request) error {
	if r.Method != http.MethodPost || r.PostForm != nil || r.Body == nil ||
		r.ContentLength < 0 || r.ContentLength > maxFormSize {
		return nil
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		return nil
	}
	r.PostForm = url.Values{}
	body := make([]byte, r.ContentLength)
	n, eof := 0, false
	for n < len(body) && !eof {
		k, err := r.Body.Read(body[n:])
		n += k
		eof = err == io.EOF
		if err != nil && !eof {
			return err
		}
	}
	body = body[:n]
	if !eof { // read on to EOF, as ReadAll does (nothing left of a server request)
		rest, err := io.ReadAll(io.LimitReader(r.Body, maxFormSize+1-int64(n)))
		if err != nil {
			return err
		}
		body = append(body, rest...)
	}
	if len(body) > maxFormSize {
		return errors.New("http: POST too large")
	}
	vs, err := url.ParseQuery(string(body))
	r.PostForm = vs
	return err
}

func (f *FakeAPI) dispatch(ctx context.Context, method string, p url.Values, r *http.Request) answer {
	switch method {
	case "getMe":
		return okAnswer(tgbotapi.User{ID: f.cfg.BotID, IsBot: true, FirstName: "Lotse", UserName: f.cfg.BotUsername})
	case "getUpdates":
		return f.getUpdates(ctx, p)
	case "sendMessage", "sendVenue", "sendLocation", "sendDocument", "sendPhoto":
		return f.send(method, p)
	case "editMessageText":
		return f.editMessageText(p)
	case "createForumTopic":
		return f.createForumTopic(p)
	case "closeForumTopic":
		return f.closeForumTopic(p)
	case "answerCallbackQuery":
		return f.answerCallback(p)
	case "setMyCommands":
		return f.setMyCommands(p)
	case "setWebhook":
		u := p.Get("url")
		if u != "" && !strings.HasPrefix(u, "https://") {
			return f.reject(method, 400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
		}
		f.mu.Lock()
		f.webhook = u
		f.mu.Unlock()
		return okAnswer(true)
	case "deleteWebhook":
		f.mu.Lock()
		f.webhook = ""
		if p.Get("drop_pending_updates") == "true" {
			f.updates = nil
		}
		f.mu.Unlock()
		return okAnswer(true)
	case "getWebhookInfo":
		f.mu.Lock()
		defer f.mu.Unlock()
		return okAnswer(map[string]any{"url": f.webhook, "has_custom_certificate": false, "pending_update_count": len(f.updates)})
	}
	return f.reject(method, http.StatusNotFound, "Not Found")
}

// reject records and returns an error answer for an invalid request.
func (f *FakeAPI) reject(method string, code int, desc string) answer {
	f.mu.Lock()
	f.errors = append(f.errors, APIError{Method: method, Code: code, Description: desc})
	f.mu.Unlock()
	return errAnswer(code, desc)
}

func (f *FakeAPI) getUpdates(ctx context.Context, p url.Values) answer {
	offset, _ := strconv.Atoi(p.Get("offset"))
	limit, _ := strconv.Atoi(p.Get("limit"))
	if limit <= 0 || limit > 100 {
		limit = 100
	}
	timeout, _ := strconv.Atoi(p.Get("timeout"))
	wait := min(time.Duration(max(timeout, 0))*time.Second, f.cfg.MaxPollWait)
	if f.cfg.IgnoreTimeout {
		wait = 0
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()

	f.mu.Lock()
	if f.webhook != "" {
		f.mu.Unlock()
		return f.reject("getUpdates", http.StatusConflict, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first")
	}
	// Confirmation: an offset higher than an update's id confirms it;
	// a negative offset keeps only the last -offset updates.
	switch {
	case offset > 0:
		keep := f.updates[:0]
		for _, u := range f.updates {
			if u.UpdateID >= offset {
				keep = append(keep, u)
			} else {
				f.confirmed = max(f.confirmed, u.UpdateID)
			}
		}
		f.updates = keep
	case offset < 0 && -offset < len(f.updates):
		drop := len(f.updates) + offset
		f.confirmed = max(f.confirmed, f.updates[drop-1].UpdateID)
		f.updates = f.updates[drop:]
	}
	f.notify()
	for len(f.updates) == 0 {
		ch := f.changed
		f.mu.Unlock()
		select {
		case <-ch:
		case <-deadline.C:
			return okAnswer([]tgbotapi.Update{})
		case <-ctx.Done():
			return okAnswer([]tgbotapi.Update{})
		case <-f.closed:
			return okAnswer([]tgbotapi.Update{})
		}
		f.mu.Lock()
	}
	n := min(limit, len(f.updates))
	out := make([]any, n)
	for i, u := range f.updates[:n] {
		out[i] = f.withTopic(u)
	}
	f.mu.Unlock()
	return okAnswer(out)
}

func (f *FakeAPI) send(method string, p url.Values) answer {
	chatID, err := strconv.ParseInt(p.Get("chat_id"), 10, 64)
	if err != nil || chatID == 0 {
		return f.reject(method, 400, "Bad Request: chat_id is empty")
	}
	m := SentMessage{Method: method, ChatID: chatID}
	m.ReplyTo, _ = strconv.Atoi(p.Get("reply_to_message_id"))
	if raw := p.Get("message_thread_id"); raw != "" {
		if m.ThreadID, err = strconv.Atoi(raw); err != nil || !f.topicOpen(chatID, m.ThreadID) {
			return f.reject(method, 400, "Bad Request: message thread not found")
		}
	}
	switch method {
	case "sendMessage":
		text, desc := validateText(p.Get("text"), p.Get("parse_mode"), 4096)
		if desc != "" {
			return f.reject(method, 400, desc)
		}
		m.Text, m.ParseMode = text, p.Get("parse_mode")
	case "sendVenue", "sendLocation":
		lat, err1 := strconv.ParseFloat(p.Get("latitude"), 64)
		lon, err2 := strconv.ParseFloat(p.Get("longitude"), 64)
		if err1 != nil || err2 != nil || math.Abs(lat) > 90 || math.Abs(lon) > 180 {
			return f.reject(method, 400, "Bad Request: wrong latitude or longitude")
		}
		loc := tgbotapi.Location{Latitude: lat, Longitude: lon}
		if method == "sendLocation" {
			m.Location = &loc
			break
		}
		title, addr := p.Get("title"), p.Get("address")
		if strings.TrimSpace(title) == "" || strings.TrimSpace(addr) == "" {
			return f.reject(method, 400, "Bad Request: venue title and address must be non-empty")
		}
		m.Venue = &tgbotapi.Venue{Location: loc, Title: title, Address: addr}
	case "sendDocument":
		name := p.Get("document")
		content, uploaded := p["document.content"]
		if name == "" {
			return f.reject(method, 400, "Bad Request: there is no document in the request")
		}
		if uploaded && len(content[0]) == 0 {
			return f.reject(method, 400, "Bad Request: file must be non-empty")
		}
		caption, desc := validateText(p.Get("caption"), p.Get("parse_mode"), 1024)
		if desc != "" && p.Get("caption") != "" {
			return f.reject(method, 400, strings.Replace(desc, "message", "message caption", 1))
		}
		m.Text, m.ParseMode = caption, p.Get("parse_mode")
		doc := &SentDocument{Name: name}
		if uploaded {
			doc.Content = []byte(content[0])
		} else {
			m.FileID = name
		}
		m.Document = doc
	case "sendPhoto":
		id := p.Get("photo")
		if _, uploaded := p["photo.content"]; uploaded || id == "" {
			return f.reject(method, 400, "Bad Request: there is no photo in the request")
		}
		caption, desc := validateText(p.Get("caption"), p.Get("parse_mode"), 1024)
		if desc != "" && p.Get("caption") != "" {
			return f.reject(method, 400, strings.Replace(desc, "message", "message caption", 1))
		}
		m.Text, m.ParseMode, m.FileID = caption, p.Get("parse_mode"), id
	}
	if raw := p.Get("reply_markup"); raw != "" {
		mk, desc := validateMarkup(raw)
		if desc != "" {
			return f.reject(method, 400, desc)
		}
		m.Markup = mk
	}

	f.mu.Lock()
	typ, known := f.chats[chatID]
	blocked := f.blocked[chatID]
	f.mu.Unlock()
	switch {
	case !known:
		return f.reject(method, 400, "Bad Request: chat not found")
	case blocked && typ == "private":
		return f.reject(method, 403, "Forbidden: bot was blocked by the user")
	case blocked:
		return f.reject(method, 403, "Forbidden: bot was kicked from the group chat")
	}
	if retry, kind := f.admit(chatID, time.Now()); kind != "" {
		return answer{status: http.StatusTooManyRequests, desc: "Too Many Requests: retry after " + strconv.Itoa(retry), retry: retry}
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextMsg[chatID]++
	m.MessageID = f.nextMsg[chatID]
	f.sent = append(f.sent, m)
	f.notify()
	return answer{status: http.StatusOK, raw: sentJSON(m.MessageID, int(time.Now().Unix()), chatID, typ, m.Text)}
}

// admit applies the flood limits; it returns the retry_after and the
// kind of limit exceeded, or "" if the message may go.
func (f *FakeAPI) admit(chatID int64, now time.Time) (int, string) {
	l := f.cfg.Limits
	if l.Disabled {
		return 0, ""
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var kind string
	var wait time.Duration

	// Global: at most GlobalPerSecond in any window of one second
	// (shortened by Slack).
	gwin := time.Duration(float64(time.Second) * (1 - l.Slack))
	f.global = prune(f.global, now.Add(-gwin))
	if len(f.global) >= l.GlobalPerSecond {
		kind, wait = "global", f.global[0].Sub(now.Add(-gwin))
	}
	hist := f.chatHist[chatID]
	tat := f.chatTAT[chatID]
	if kind == "" && chatID < 0 {
		win := time.Duration(float64(l.GroupWindow) * (1 - l.Slack))
		hist = prune(hist, now.Add(-win))
		if len(hist) >= l.GroupPerWindow {
			kind, wait = "group", hist[0].Sub(now.Add(-win))
		}
	} else if kind == "" {
		// GCRA, the exact equivalent of a token bucket of PerChatBurst
		// refilled once per PerChat: tat is when the bucket would be
		// full again.
		per := time.Duration(float64(l.PerChat) * (1 - l.Slack))
		tolerance := per * time.Duration(l.PerChatBurst-1)
		if tat.Before(now) {
			tat = now
		}
		if earliest := tat.Add(-tolerance); now.Before(earliest) {
			kind, wait = "chat", earliest.Sub(now)
		}
		tat = tat.Add(per)
	}
	if kind != "" {
		f.viol = append(f.viol, Violation{Kind: kind, ChatID: chatID, At: now})
		return max(1, int(math.Ceil(wait.Seconds()))), kind
	}
	f.global = append(f.global, now)
	if chatID < 0 {
		f.chatHist[chatID] = append(hist, now)
	} else {
		f.chatTAT[chatID] = tat
	}
	return 0, ""
}

func prune(ts []time.Time, cutoff time.Time) []time.Time {
	i := 0
	for i < len(ts) && !ts[i].After(cutoff) {
		i++
	}
	return ts[i:]
}

func (f *FakeAPI) editMessageText(p url.Values) answer {
	const method = "editMessageText"
	chatID, _ := strconv.ParseInt(p.Get("chat_id"), 10, 64)
	msgID, _ := strconv.Atoi(p.Get("message_id"))
	text, desc := validateText(p.Get("text"), p.Get("parse_mode"), 4096)
	if desc != "" {
		return f.reject(method, 400, desc)
	}
	var mk *tgbotapi.InlineKeyboardMarkup
	if raw := p.Get("reply_markup"); raw != "" {
		if mk, desc = validateMarkup(raw); desc != "" {
			return f.reject(method, 400, desc)
		}
	}
	f.mu.Lock()
	var last *SentMessage
	for i := range f.sent {
		if f.sent[i].ChatID == chatID && f.sent[i].MessageID == msgID {
			last = &f.sent[i]
		}
	}
	if last == nil || last.Method != "sendMessage" {
		f.mu.Unlock()
		return f.reject(method, 400, "Bad Request: message to edit not found")
	}
	if last.Text == text && markupJSON(last.Markup) == markupJSON(mk) {
		f.mu.Unlock()
		return f.reject(method, 400, "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message")
	}
	edit := *last
	edit.Text, edit.Markup, edit.Edited, edit.ParseMode = text, mk, true, p.Get("parse_mode")
	f.sent = append(f.sent, edit)
	f.notify()
	f.mu.Unlock()
	return okAnswer(tgbotapi.Message{MessageID: msgID, Chat: &tgbotapi.Chat{ID: chatID}, Text: text})
}

func markupJSON(m *tgbotapi.InlineKeyboardMarkup) string {
	if m == nil {
		return ""
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func (f *FakeAPI) answerCallback(p url.Values) answer {
	const method = "answerCallbackQuery"
	id := p.Get("callback_query_id")
	if n := utf16Len(p.Get("text")); n > 200 {
		return f.reject(method, 400, "Bad Request: MESSAGE_TOO_LONG")
	}
	f.mu.Lock()
	answered, ok := f.callbacks[id]
	if ok && !answered {
		f.callbacks[id] = true
		f.notify()
	}
	f.mu.Unlock()
	if !ok || answered {
		return f.reject(method, 400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
	}
	return okAnswer(true)
}

func (f *FakeAPI) setMyCommands(p url.Values) answer {
	const method = "setMyCommands"
	var cmds []tgbotapi.BotCommand
	if err := json.Unmarshal([]byte(p.Get("commands")), &cmds); err != nil {
		return f.reject(method, 400, "Bad Request: can't parse commands JSON object")
	}
	if len(cmds) > 100 {
		return f.reject(method, 400, "Bad Request: too many commands")
	}
	for _, c := range cmds {
		if !validCommandName(c.Command) {
			return f.reject(method, 400, "Bad Request: BOT_COMMAND_INVALID")
		}
		if n := utf16Len(c.Description); n == 0 || n > 256 {
			return f.reject(method, 400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
		}
	}
	f.mu.Lock()
	f.commands[p.Get("language_code")] = cmds
	f.mu.Unlock()
	return okAnswer(true)
}

func validCommandName(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// validateText checks a text as Telegram would: parse entities for the
// parse mode, then 1..max characters of visible text. It returns the
// visible text or a Telegram error description.
func validateText(text, parseMode string, max int) (string, string) {
	visible := text
	if parseMode != "" {
		var err string
		visible, err = parseEntities(text, parseMode)
		if err != "" {
			return "", "Bad Request: can't parse entities: " + err
		}
	}
	if strings.TrimSpace(visible) == "" {
		return "", "Bad Request: message text is empty"
	}
	if utf16Len(visible) > max {
		return "", "Bad Request: message is too long"
	}
	return text, ""
}

// markupMemo keeps validateMarkup's verdicts by markup: bots send the
// same keyboards over and over, and decoding them twice per message made
// the fake a third of a load test's CPU. The verdict is a function of
// the markup alone, so the memo changes nothing but the cost.
var markupMemo struct {
	sync.Mutex
	m map[string]markupVerdict
}

type markupVerdict struct {
	mk   *tgbotapi.InlineKeyboardMarkup
	desc string
}

// maxMarkupMemo bounds the memo; it starts afresh when full.
const maxMarkupMemo = 4096

// validateMarkup decodes an inline keyboard and checks every button:
// non-empty text, exactly one button type, callback_data of 1-64 bytes.
// Each caller gets its own copy of the keyboard.
func validateMarkup(raw string) (*tgbotapi.InlineKeyboardMarkup, string) {
	markupMemo.Lock()
	v, ok := markupMemo.m[raw]
	markupMemo.Unlock()
	if !ok {
		v.mk, v.desc = checkMarkup(raw)
		markupMemo.Lock()
		if markupMemo.m == nil || len(markupMemo.m) >= maxMarkupMemo {
			markupMemo.m = map[string]markupVerdict{}
		}
		markupMemo.m[raw] = v
		markupMemo.Unlock()
	}
	if v.mk == nil {
		return nil, v.desc
	}
	// One backing array for all rows; each row capped at its length, so
	// that appending to one cannot overwrite the next.
	n := 0
	for _, row := range v.mk.InlineKeyboard {
		n += len(row)
	}
	all := make([]tgbotapi.InlineKeyboardButton, 0, n)
	mk := &tgbotapi.InlineKeyboardMarkup{InlineKeyboard: make([][]tgbotapi.InlineKeyboardButton, len(v.mk.InlineKeyboard))}
	for i, row := range v.mk.InlineKeyboard {
		if row == nil {
			continue // as slices.Clone keeps a nil row nil
		}
		start := len(all)
		all = append(all, row...)
		mk.InlineKeyboard[i] = all[start:len(all):len(all)]
	}
	return mk, ""
}

// checkMarkup is validateMarkup without the memo.
func checkMarkup(raw string) (*tgbotapi.InlineKeyboardMarkup, string) {
	var generic struct {
		InlineKeyboard [][]map[string]json.RawMessage `json:"inline_keyboard"`
	}
	if err := json.Unmarshal([]byte(raw), &generic); err != nil || generic.InlineKeyboard == nil {
		return nil, "Bad Request: can't parse reply keyboard markup JSON object"
	}
	types := []string{"url", "login_url", "callback_data", "web_app", "switch_inline_query",
		"switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text", "callback_game", "pay"}
	for _, row := range generic.InlineKeyboard {
		for _, b := range row {
			var text string
			if json.Unmarshal(b["text"], &text) != nil || strings.TrimSpace(text) == "" {
				return nil, "Bad Request: BUTTON_TEXT_INVALID"
			}
			n := 0
			for _, t := range types {
				if v, ok := b[t]; ok && string(v) != "null" && string(v) != "false" {
					n++
				}
			}
			if n != 1 {
				return nil, "Bad Request: BUTTON_TYPE_INVALID"
			}
			if v, ok := b["callback_data"]; ok {
				var data string
				if json.Unmarshal(v, &data) != nil || len(data) == 0 || len(data) > 64 {
					return nil, "Bad Request: BUTTON_DATA_INVALID"
				}
			}
			if v, ok := b["url"]; ok {
				var u string
				if json.Unmarshal(v, &u) != nil || !(strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "tg://")) {
					return nil, "Bad Request: BUTTON_URL_INVALID"
				}
			}
		}
	}
	var mk tgbotapi.InlineKeyboardMarkup
	if err := json.Unmarshal([]byte(raw), &mk); err != nil {
		return nil, "Bad Request: can't parse reply keyboard markup JSON object"
	}
	return &mk, ""
}

// parseEntities is a small model of Telegram's entity parsers: enough to
// reject what the real API rejects in the common cases (unescaped
// reserved characters in MarkdownV2, unclosed markup, unknown HTML tags
// or entities) and to return the visible text. It returns the visible
// text or an error description.
func parseEntities(text, mode string) (string, string) {
	switch mode {
	case "MarkdownV2":
		return parseMarkdown(text, true)
	case "Markdown":
		return parseMarkdown(text, false)
	case "HTML":
		return parseHTML(text)
	}
	return "", "unsupported parse_mode"
}

func parseMarkdown(text string, v2 bool) (string, string) {
	var out strings.Builder
	open := map[string]int{} // marker → byte offset where opened
	rs := []rune(text)
	inCode := false
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		if r == '\\' && v2 && i+1 < len(rs) {
			out.WriteRune(rs[i+1])
			i++
			continue
		}
		if inCode && r != '`' {
			out.WriteRune(r)
			continue
		}
		switch r {
		case '`':
			inCode = !inCode
			continue
		case '*', '_', '~', '|':
			if !v2 && (r == '~' || r == '|') {
				out.WriteRune(r)
				continue
			}
			m := string(r)
			if v2 && (r == '_' || r == '|') && i+1 < len(rs) && rs[i+1] == r {
				m += string(r)
				i++
			}
			if v2 && r == '|' && m == "|" {
				return "", "Character '|' is reserved and must be escaped with the preceding '\\'"
			}
			if _, ok := open[m]; ok {
				delete(open, m)
			} else {
				open[m] = i
			}
			continue
		case '[':
			j := i + 1
			for j < len(rs) && rs[j] != ']' {
				j++
			}
			if j+1 < len(rs) && rs[j+1] == '(' {
				k := j + 2
				for k < len(rs) && rs[k] != ')' {
					k++
				}
				if k < len(rs) {
					out.WriteString(string(rs[i+1 : j]))
					i = k
					continue
				}
			}
			if v2 {
				return "", "Character '[' is reserved and must be escaped with the preceding '\\'"
			}
			open["["] = i
			continue
		}
		if v2 && strings.ContainsRune("]()>#+-={}.!", r) {
			return "", fmt.Sprintf("Character '%c' is reserved and must be escaped with the preceding '\\'", r)
		}
		out.WriteRune(r)
	}
	if inCode {
		return "", "Can't find end of the entity starting at byte offset " + strconv.Itoa(len(text)-1)
	}
	if len(open) > 0 {
		m, at := "", len(rs)
		for k, v := range open {
			if v < at {
				m, at = k, v
			}
		}
		return "", fmt.Sprintf("Can't find end of %s entity at character offset %d", markerName(m), at)
	}
	return out.String(), ""
}

func markerName(m string) string {
	switch m {
	case "*":
		return "Bold"
	case "_":
		return "Italic"
	case "__":
		return "Underline"
	case "~":
		return "Strikethrough"
	case "||":
		return "Spoiler"
	}
	return "TextUrl"
}

var htmlTags = map[string]bool{
	"b": true, "strong": true, "i": true, "em": true, "u": true, "ins": true, "s": true,
	"strike": true, "del": true, "a": true, "code": true, "pre": true, "span": true,
	"tg-spoiler": true, "blockquote": true, "tg-emoji": true,
}

func parseHTML(text string) (string, string) {
	var out strings.Builder
	var stack []string
	for i := 0; i < len(text); {
		switch text[i] {
		case '<':
			j := strings.IndexByte(text[i:], '>')
			if j < 0 {
				return "", fmt.Sprintf("Unclosed start tag at byte offset %d", i)
			}
			tag := text[i+1 : i+j]
			closing := strings.HasPrefix(tag, "/")
			name, _, _ := strings.Cut(strings.TrimPrefix(tag, "/"), " ")
			name = strings.ToLower(name)
			if !htmlTags[name] {
				return "", fmt.Sprintf("Unsupported start tag \"%s\" at byte offset %d", name, i)
			}
			if closing {
				if len(stack) == 0 || stack[len(stack)-1] != name {
					return "", fmt.Sprintf("Unmatched end tag at byte offset %d, expected \"</%s>\", found \"</%s>\"", i, last(stack), name)
				}
				stack = stack[:len(stack)-1]
			} else {
				stack = append(stack, name)
			}
			i += j + 1
		case '&':
			j := strings.IndexByte(text[i:], ';')
			ent := ""
			if j > 0 {
				ent = text[i+1 : i+j]
			}
			switch {
			case ent == "lt", ent == "gt", ent == "amp", ent == "quot":
				out.WriteString(map[string]string{"lt": "<", "gt": ">", "amp": "&", "quot": `"`}[ent])
			case strings.HasPrefix(ent, "#") && len(ent) > 1:
				out.WriteString("?")
			default:
				// Telegram keeps a lone "&" as text.
				out.WriteByte('&')
				i++
				continue
			}
			i += j + 1
		default:
			out.WriteByte(text[i])
			i++
		}
	}
	if len(stack) > 0 {
		return "", fmt.Sprintf("Can't find end tag corresponding to start tag \"%s\"", last(stack))
	}
	return out.String(), ""
}

func last(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[len(s)-1]
}
