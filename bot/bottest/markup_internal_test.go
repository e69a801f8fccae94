package bottest

import (
	"fmt"
	"reflect"
	"testing"
)

// TestMarkupMemo: the memo of keyboard verdicts answers as the check
// itself does, on the first sight of a keyboard and on every later one,
// for keyboards the real API accepts and for every kind it rejects; the
// keyboards handed out are the callers' own; the memo stays bounded.
func TestMarkupMemo(t *testing.T) {
	kb := func(buttons string) string { return `{"inline_keyboard":[[` + buttons + `]]}` }
	markups := []string{
		kb(`{"text":"a","callback_data":"d"}`),
		kb(`{"text":"a","url":"https://example.org"},{"text":"b","callback_data":"e"}`),
		`{"inline_keyboard":[[{"text":"a","callback_data":"d"}],[{"text":"b","url":"tg://resolve"}]]}`,
		`{"inline_keyboard":[]}`,
		kb(`{"text":"a","callback_data":"` + string(make([]byte, 65)) + `"}`),
		kb(`{"text":"a","callback_data":""}`),
		kb(`{"text":"a","callback_data":"d","url":"https://x"}`),
		kb(`{"text":"a"}`),
		kb(`{"text":" ","callback_data":"d"}`),
		kb(`{"Text":"a","callback_data":"d"}`), // keys are case-sensitive
		kb(`{"text":"a","url":"ftp://x"}`),
		kb(`{"text":"a","callback_data":5}`),
		kb(`{"text":"a","pay":false,"callback_data":"d"}`),
		kb(`{"text":"a","pay":true,"callback_data":"d"}`),
		`{"inline_keyboard":null}`,
		`{}`,
		`not json`,
		`{"inline_keyboard":[[{"text":"a","callback_data":"d"}]]`,
	}
	accepted := 0
	for _, raw := range markups {
		want, wantDesc := checkMarkup(raw)
		if want != nil {
			accepted++
		}
		for i := range 3 {
			got, desc := validateMarkup(raw)
			if desc != wantDesc || !reflect.DeepEqual(got, want) {
				t.Errorf("%s, call %d: got %+v %q, want %+v %q", raw, i+1, got, desc, want, wantDesc)
			}
			if got != nil && len(got.InlineKeyboard) > 1 {
				// Rows are separate: growing one leaves the next alone.
				_ = append(got.InlineKeyboard[0], got.InlineKeyboard[0][0])
				if !reflect.DeepEqual(got.InlineKeyboard[1], want.InlineKeyboard[1]) {
					t.Errorf("%s, call %d: appending to row 1 changed row 2 to %+v", raw, i+1, got.InlineKeyboard[1])
				}
			}
			if got != nil && len(got.InlineKeyboard) > 0 && len(got.InlineKeyboard[0]) > 0 {
				// A caller changing its keyboard changes nobody else's.
				got.InlineKeyboard[0][0].Text = "changed"
				got.InlineKeyboard[0] = nil
			}
		}
	}
	if accepted != 5 {
		t.Errorf("%d of the markups accepted, want 5", accepted)
	}
	for i := range maxMarkupMemo + 10 {
		validateMarkup(kb(fmt.Sprintf(`{"text":"a","callback_data":"%d"}`, i)))
	}
	markupMemo.Lock()
	n := len(markupMemo.m)
	markupMemo.Unlock()
	if n > maxMarkupMemo {
		t.Errorf("memo holds %d keyboards, more than %d", n, maxMarkupMemo)
	}
}
