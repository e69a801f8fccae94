package jsonstr

import (
	"encoding/json"
	"testing"
)

var tricky = []string{
	"hello", "", "Wo ist die Ausländerbehörde? 100% & <mehr> \"Zitat\" \\ a+b=c ~x_y.z-",
	"где курсы немецкого?\nСтрока 2\tтаб", "أين مكتب العمل؟", "bad utf8 \xff\xfe end \xe2\x82",
	"\x00\x01\x1f\x7f \u2028 \u2029 \b\f\r", "emoji 😀 and combining é",
}

func TestAppendMatchesEncodingJSON(t *testing.T) {
	for _, s := range tricky {
		check(t, s)
	}
}

func FuzzAppend(f *testing.F) {
	for _, s := range tricky {
		f.Add(s)
	}
	f.Fuzz(check)
}

func check(t *testing.T, s string) {
	want, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if got := Append([]byte("x"), s); string(got) != "x"+string(want) {
		t.Errorf("Append(%q) = %s, encoding/json %s", s, got[1:], want)
	}
}
