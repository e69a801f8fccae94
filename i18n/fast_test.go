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

// TestPluralMemoMatchesGoI18n asks Plural for every plural message in
// every language (and one without a file) twice, so the second answer
// comes from the memo, and wants go-i18n's text both times, also for
// counts and data the memo leaves alone.
func TestPluralMemoMatchesGoI18n(t *testing.T) {
	c, err := NewCatalog()
	if err != nil {
		t.Fatal(err)
	}
	plurals := 0
	langs := append(c.Languages(), "xx")
	counts := []int{-3, -1, 0, 1, 2, 3, 4, 5, 6, 7, 10, 11, 12, 14, 19, 20, 21, 22, 25, 100, 101, 102, 111, 999, 1000, 1001, 1_000_000}
	for _, id := range append(c.IDs(), "NoSuchMessage") {
		if !c.IsPlural(id) && id != "NoSuchMessage" {
			continue
		}
		plurals++
		for _, lang := range langs {
			for _, n := range counts {
				for _, data := range []map[string]any{nil, {}, {"Count": "many"}, {"Name": "x"}} {
					d := map[string]any{"Count": n}
					for k, v := range data {
						d[k] = v
					}
					want, _ := c.localize(lang, id, d, n)
					for i := range 2 {
						if got := c.Plural(lang, id, n, data); got != want {
							t.Errorf("%s %s n=%d data=%v call %d: Plural = %q, go-i18n = %q", lang, id, n, data, i, got, want)
						}
					}
				}
			}
		}
	}
	if plurals < 2 {
		t.Fatalf("only %d plural messages", plurals)
	}
	memo := 0
	c.pluralMemo.Range(func(k, _ any) bool {
		memo++
		if k := k.(pluralKey); k.lang == "xx" || !c.IsPlural(k.id) || k.n < 0 || k.n >= maxPluralMemoCount {
			t.Errorf("memoised %+v", k)
		}
		return true
	})
	if memo == 0 {
		t.Error("nothing memoised")
	}
}

func BenchmarkPlural(b *testing.B) {
	c, err := NewCatalog()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		c.Plural("ar", "MoreResults", 3, nil)
	}
}
