package telegram

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/lotse-bot/lotse/internal/jsonstr"
)

// This file is the send path of sendMessage, the call behind nearly
// every reply. It makes the request the library makes for a
// tgbotapi.MessageConfig - the same parameters with the same values, the
// keyboard as encoding/json writes it (see TestTextRequestMatchesLibrary)
// - as a JSON body instead of a form, and reads the same answer, without
// the library's per-call costs: a map of parameters copied into
// url.Values, the URL built with fmt, the keyboard through reflection,
// every byte of the keyboard and of non-Latin text percent-escaped, and
// the answer decoded twice (envelope, then result) after being copied
// through a json.Decoder.

// textRequest is a sendMessage call as Send makes it: plain text (no
// parse_mode, no entities), optionally a reply and a keyboard.
type textRequest struct {
	chatID       int64
	replyTo      int
	allowNoReply bool
	markup       *tgbotapi.InlineKeyboardMarkup
	text         string
}

// message is the library's MessageConfig for r: what the fast path
// must be equivalent to, and the fallback for keyboards it cannot
// encode itself.
func (r textRequest) message() tgbotapi.MessageConfig {
	m := tgbotapi.NewMessage(r.chatID, r.text)
	m.ReplyToMessageID = r.replyTo
	m.AllowSendingWithoutReply = r.allowNoReply
	if r.markup != nil {
		m.ReplyMarkup = r.markup
	}
	return m
}

// body is the request body the fast path sends and its content type:
// JSON, which Telegram accepts for every method without a file. A form
// would carry the same parameters, but percent-escapes the keyboard's
// JSON and every byte of non-Latin text: an Arabic or Ukrainian answer
// becomes about three times as long as in JSON. ok is false if the
// keyboard uses a field appendMarkup does not write, or if the text is
// not UTF-8: JSON would replace the bad bytes, the library sends them
// and Telegram refuses the call, and that is what the caller should see.
// Zero values are left out, as the library leaves them out.
func (r textRequest) body() (body []byte, contentType string, ok bool) {
	if !utf8.ValidString(r.text) {
		return nil, "", false
	}
	b := make([]byte, 0, 128+len(r.text)+len(r.text)/8+256*markupButtons(r.markup))
	b = append(b, '{')
	sep := func() {
		if len(b) > 1 {
			b = append(b, ',')
		}
	}
	if r.chatID != 0 {
		b = append(b, `"chat_id":`...)
		b = strconv.AppendInt(b, r.chatID, 10)
	}
	if r.text != "" {
		sep()
		b = append(b, `"text":`...)
		b = jsonstr.Append(b, r.text)
	}
	if r.markup != nil {
		sep()
		b = append(b, `"reply_markup":`...)
		if b, ok = appendMarkup(b, r.markup); !ok {
			return nil, "", false
		}
	}
	if r.replyTo != 0 {
		sep()
		b = append(b, `"reply_to_message_id":`...)
		b = strconv.AppendInt(b, int64(r.replyTo), 10)
	}
	if r.allowNoReply {
		sep()
		b = append(b, `"allow_sending_without_reply":true`...)
	}
	return append(b, '}'), "application/json", true
}

func markupButtons(m *tgbotapi.InlineKeyboardMarkup) int {
	if m == nil {
		return 0
	}
	n := 0
	for _, row := range m.InlineKeyboard {
		n += len(row)
	}
	return n
}

// appendMarkup appends the JSON encoding/json writes for m. It handles
// the fields keyboard sets (text, url, callback_data); for any other it
// returns false, and the caller leaves the call to the library.
func appendMarkup(b []byte, m *tgbotapi.InlineKeyboardMarkup) ([]byte, bool) {
	if m.InlineKeyboard == nil {
		return append(b, `{"inline_keyboard":null}`...), true
	}
	b = append(b, `{"inline_keyboard":[`...)
	for i, row := range m.InlineKeyboard {
		if i > 0 {
			b = append(b, ',')
		}
		if row == nil {
			b = append(b, "null"...)
			continue
		}
		b = append(b, '[')
		for j, k := range row {
			if k.LoginURL != nil || k.SwitchInlineQuery != nil || k.SwitchInlineQueryCurrentChat != nil ||
				k.CallbackGame != nil || k.Pay {
				return b, false
			}
			if j > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"text":`...)
			b = jsonstr.Append(b, k.Text)
			if k.URL != nil {
				b = append(b, `,"url":`...)
				b = jsonstr.Append(b, *k.URL)
			}
			if k.CallbackData != nil {
				b = append(b, `,"callback_data":`...)
				b = jsonstr.Append(b, *k.CallbackData)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, "]}"...), true
}

// sentAnswer is the Bot API's answer to a send, decoded in one pass:
// the envelope and, of the result, only the message id.
type sentAnswer struct {
	Ok          bool                         `json:"ok"`
	Result      *sentResult                  `json:"result"`
	ErrorCode   int                          `json:"error_code"`
	Description string                       `json:"description"`
	Parameters  *tgbotapi.ResponseParameters `json:"parameters"`
}

type sentResult struct {
	MessageID int `json:"message_id"`
}

var answerBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// postSend makes one attempt of a send call whose form is body and
// returns the id of the message sent. Its errors are the library's for
// the same answer: *tgbotapi.Error for an API error, the transport's or
// the JSON decoder's error otherwise, so classify and apiError treat
// them alike. decodeErr is set (and err nil) when Telegram accepted the
// call but its result has no message id to read: the caller must not
// retry then.
func (c *Client) postSend(ctx context.Context, url string, body []byte, contentType string) (id int, decodeErr, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	buf := answerBufs.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 64<<10 {
			buf.Reset()
			answerBufs.Put(buf)
		}
	}()
	buf.Reset()
	_, rerr := buf.ReadFrom(resp.Body)
	resp.Body.Close()
	return decodeSent(buf.Bytes(), rerr)
}

// decodeSent reads an answer to a send as the library and
// sendChattable would (see postSend), the common case in one pass.
func decodeSent(data []byte, rerr error) (id int, decodeErr, err error) {
	if rerr == nil {
		if id, ok := sentID(data); ok {
			return id, nil, nil
		}
	}
	var a sentAnswer
	if rerr == nil && json.Unmarshal(data, &a) == nil && (!a.Ok || a.Result != nil) {
		if !a.Ok {
			return 0, nil, apiErrorOf(a.ErrorCode, a.Description, a.Parameters)
		}
		return a.Result.MessageID, nil, nil
	}
	// Anything unusual (a read error, trailing data, a result that is
	// not an object, or none) goes the library's way, so that it ends
	// the same.
	return slowAnswer(data, rerr)
}

// slowAnswer decodes an answer exactly as the library and
// sendChattable do: a json.Decoder for the envelope (reading data, then
// failing with rerr where data ran out), then the result again.
func slowAnswer(data []byte, rerr error) (id int, decodeErr, err error) {
	var r interface{ Read([]byte) (int, error) } = bytes.NewReader(data)
	if rerr != nil {
		r = &errAfter{r: bytes.NewReader(data), err: rerr}
	}
	var ar tgbotapi.APIResponse
	if err := json.NewDecoder(r).Decode(&ar); err != nil {
		return 0, nil, err
	}
	if !ar.Ok {
		return 0, nil, apiErrorOf(ar.ErrorCode, ar.Description, ar.Parameters)
	}
	var sent struct {
		MessageID int `json:"message_id"`
	}
	if err := json.Unmarshal(ar.Result, &sent); err != nil {
		return 0, err, nil
	}
	return sent.MessageID, nil, nil
}

func apiErrorOf(code int, desc string, p *tgbotapi.ResponseParameters) *tgbotapi.Error {
	var params tgbotapi.ResponseParameters
	if p != nil {
		params = *p
	}
	return &tgbotapi.Error{Code: code, Message: desc, ResponseParameters: params}
}

// errAfter reads r, then fails with err instead of io.EOF.
type errAfter struct {
	r   *bytes.Reader
	err error
}

func (e *errAfter) Read(p []byte) (int, error) {
	n, _ := e.r.Read(p)
	if n == 0 {
		return 0, e.err
	}
	return n, nil
}

// methodURL is the URL of a Bot API method: what the library builds
// with fmt.Sprintf(endpoint, token, method). New checked that the
// endpoint has exactly two %s and no other %.
func methodURL(endpoint, token, method string) string {
	s := strings.Replace(endpoint, "%s", token, 1)
	i := strings.LastIndex(s, "%s")
	return s[:i] + method + s[i+2:]
}

// sentID reads the message id from a successful answer to a send,
// {"ok":true,"result":{...,"message_id":N,...}}, in one pass that also
// checks the whole answer is valid JSON. ok is false for anything else
// (an error answer, other top-level keys, a key that only matches
// "message_id" the way encoding/json matches keys ignoring case,
// trailing data, a message id that is not a plain integer): the caller
// then decodes the answer the library's way, so whatever sentID accepts
// decodes to the same id there (FuzzSentID checks this).
func sentID(data []byte) (id int, ok bool) {
	s := answerScanner{data: data}
	s.space()
	if !s.byte('{') {
		return 0, false
	}
	var gotOK, okVal, gotResult bool
	s.space()
	if !s.byte('}') {
		for {
			key, simple := s.key()
			if !simple {
				return 0, false
			}
			switch string(key) {
			case "ok":
				switch {
				case s.lit("true"):
					okVal = true
				case s.lit("false"):
					okVal = false
				default:
					return 0, false
				}
				gotOK = true
			case "result":
				if id, ok = s.result(); !ok {
					return 0, false
				}
				gotResult = true
			default:
				return 0, false
			}
			s.space()
			if s.byte('}') {
				break
			}
			if !s.byte(',') {
				return 0, false
			}
			s.space()
		}
	}
	s.space()
	if s.i != len(s.data) || !gotOK || !okVal || !gotResult {
		return 0, false
	}
	return id, true
}

// answerScanner is a JSON scanner as strict as encoding/json about what
// it accepts; it gives up (returns false) on anything it does not need.
type answerScanner struct {
	data  []byte
	i     int
	depth int
}

func (s *answerScanner) space() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *answerScanner) byte(c byte) bool {
	if s.i < len(s.data) && s.data[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *answerScanner) lit(l string) bool {
	if len(s.data)-s.i >= len(l) && string(s.data[s.i:s.i+len(l)]) == l {
		s.i += len(l)
		return true
	}
	return false
}

// key reads `"name"` and the colon after it. simple is false if the
// key has escapes or is not valid.
func (s *answerScanner) key() (key []byte, simple bool) {
	start := s.i + 1
	raw, ok := s.str()
	if !ok || raw {
		return nil, false
	}
	key = s.data[start : s.i-1]
	s.space()
	if !s.byte(':') {
		return nil, false
	}
	s.space()
	return key, true
}

// str reads a string; escaped tells whether it had escape sequences.
func (s *answerScanner) str() (escaped, ok bool) {
	if !s.byte('"') {
		return false, false
	}
	for s.i < len(s.data) {
		c := s.data[s.i]
		switch {
		case c == '"':
			s.i++
			return escaped, true
		case c < 0x20:
			return false, false
		case c == '\\':
			escaped = true
			s.i++
			if s.i >= len(s.data) {
				return false, false
			}
			switch s.data[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				if len(s.data)-s.i < 5 {
					return false, false
				}
				for _, h := range s.data[s.i+1 : s.i+5] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return false, false
					}
				}
				s.i += 5
			default:
				return false, false
			}
		default:
			s.i++
		}
	}
	return false, false
}

// number reads a number; integer tells whether it had no fraction and
// no exponent.
func (s *answerScanner) number() (integer, ok bool) {
	s.byte('-')
	digits := func() bool {
		start := s.i
		for s.i < len(s.data) && '0' <= s.data[s.i] && s.data[s.i] <= '9' {
			s.i++
		}
		return s.i > start
	}
	switch {
	case s.byte('0'):
	case s.i < len(s.data) && '1' <= s.data[s.i] && s.data[s.i] <= '9':
		digits()
	default:
		return false, false
	}
	integer = true
	if s.byte('.') {
		integer = false
		if !digits() {
			return false, false
		}
	}
	if s.byte('e') || s.byte('E') {
		integer = false
		if !s.byte('+') {
			s.byte('-')
		}
		if !digits() {
			return false, false
		}
	}
	return integer, true
}

// value skips any value.
func (s *answerScanner) value() bool {
	if s.i >= len(s.data) {
		return false
	}
	switch c := s.data[s.i]; {
	case c == '"':
		_, ok := s.str()
		return ok
	case c == '-' || '0' <= c && c <= '9':
		_, ok := s.number()
		return ok
	case c == 't':
		return s.lit("true")
	case c == 'f':
		return s.lit("false")
	case c == 'n':
		return s.lit("null")
	case c == '{' || c == '[':
		return s.container(c)
	}
	return false
}

// container skips an object or array.
func (s *answerScanner) container(open byte) bool {
	if s.depth++; s.depth > 100 {
		return false
	}
	defer func() { s.depth-- }()
	s.i++
	closer := byte(']')
	if open == '{' {
		closer = '}'
	}
	s.space()
	if s.byte(closer) {
		return true
	}
	for {
		if open == '{' {
			if _, ok := s.str(); !ok {
				return false
			}
			s.space()
			if !s.byte(':') {
				return false
			}
			s.space()
		}
		if !s.value() {
			return false
		}
		s.space()
		if s.byte(closer) {
			return true
		}
		if !s.byte(',') {
			return false
		}
		s.space()
	}
}

// result reads the result object and its top-level "message_id".
func (s *answerScanner) result() (id int, ok bool) {
	if !s.byte('{') {
		return 0, false
	}
	s.depth++
	s.space()
	if s.byte('}') {
		return 0, true
	}
	for {
		start := s.i + 1
		escaped, ok := s.str()
		if !ok || escaped {
			return 0, false
		}
		key := s.data[start : s.i-1]
		s.space()
		if !s.byte(':') {
			return 0, false
		}
		s.space()
		switch {
		case string(key) == "message_id":
			from := s.i
			integer, ok := s.number()
			if !ok || !integer {
				return 0, false
			}
			n, err := strconv.Atoi(string(s.data[from:s.i]))
			if err != nil {
				return 0, false
			}
			id = n
		case bytes.EqualFold(key, []byte("message_id")):
			return 0, false // encoding/json would take it for message_id
		default:
			if !s.value() {
				return 0, false
			}
		}
		s.space()
		if s.byte('}') {
			s.depth--
			return id, true
		}
		if !s.byte(',') {
			return 0, false
		}
		s.space()
	}
}
