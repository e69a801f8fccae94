package i18n

import (
	"testing"
)

// TestFastMatchesGoI18n renders every message in every language (and in
// a language without a file) through T, which takes the fast path where
// it can, and through go-i18n, and wants the same text: with every
// placeholder filled by strings, by numbers, and with values missing or
// of types the fast path leaves to go-i18n.
func TestFastMatchesGoI18n(t *testing.T) {
	c, err := NewCatalog()
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]bool{}
	fastIDs := 0
	for _, msgs := range c.fast {
		for _, fm := range msgs {
			for _, f := range fm.fields {
				fields[f] = true
			}
		}
	}
	for _, id := range c.IDs() {
		if c.fast[SourceLanguage][id] != nil {
			fastIDs++
		}
	}
	if fastIDs < len(c.IDs())/2 {
		t.Fatalf("only %d of %d messages take the fast path", fastIDs, len(c.IDs()))
	}
	strs, nums, mixed := map[string]any{}, map[string]any{}, map[string]any{}
	i := 0
	for f := range fields {
		strs[f] = "‹" + f + " & <b>›"
		nums[f] = i * 7
		switch i % 4 {
		case 0:
			mixed[f] = int64(-i)
		case 1:
			mixed[f] = 1.5 // not a fast-path type
		case 2:
			mixed[f] = nil
		}
		i++
	}
	langs := append(c.Languages(), "xx")
	for _, data := range []map[string]any{strs, nums, mixed, nil} {
		for _, lang := range langs {
			for _, id := range append(c.IDs(), "NoSuchMessage") {
				if c.IsPlural(id) {
					continue
				}
				want, _ := c.localize(lang, id, data, nil)
				if got := c.T(lang, id, data); got != want {
					t.Errorf("%s %s: T = %q, go-i18n = %q", lang, id, got, want)
				}
			}
		}
	}
}

func BenchmarkT(b *testing.B) {
	c, err := NewCatalog()
	if err != nil {
		b.Fatal(err)
	}
	data := map[string]any{"Time": "18:00"}
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			c.T("ar", "CardOpenUntil", data)
		}
	})
	b.Run("go-i18n", func(b *testing.B) {
		for b.Loop() {
			c.localize("ar", "CardOpenUntil", data, nil)
		}
	})
}
