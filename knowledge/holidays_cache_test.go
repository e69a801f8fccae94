package knowledge

import (
	"sync"
	"testing"
	"time"
)

// TestHolidayCacheAgrees: the kept holidays of a state and year answer
// every day as the rules computed for that day alone do, in every state,
// across the cached years' edges and the years holiday rules change, and
// when many goroutines fill the cache at once.
func TestHolidayCacheAgrees(t *testing.T) {
	years := []int{cacheFirstYear - 1, cacheFirstYear, 1995, 2008, 2017, 2018, 2019, 2020, 2023, 2024, 2025, 2026, 2038, cacheLastYear, cacheLastYear + 1}
	var wg sync.WaitGroup
	var mu sync.Mutex
	holidays := 0
	for _, state := range States() {
		for _, y := range years {
			wg.Go(func() {
				n := 0
				for d := time.Date(y, 1, 1, 12, 0, 0, 0, time.UTC); d.Year() == y; d = d.AddDate(0, 0, 1) {
					got, gotOK := Holiday(state, d)
					want, wantOK := holidayOn(state, y, d.Month(), d.Day())
					if got != want || gotOK != wantOK {
						t.Errorf("%s %s: Holiday = %q, %v; the rules say %q, %v", state, d.Format(time.DateOnly), got, gotOK, want, wantOK)
					}
					if gotOK {
						n++
					}
				}
				mu.Lock()
				holidays += n
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	// Every state has at least nine holidays a year.
	if min := 9 * len(States()) * len(years); holidays < min {
		t.Errorf("%d holidays found, want at least %d", holidays, min)
	}
	if name, ok := Holiday("SN", time.Date(2026, time.November, 18, 0, 0, 0, 0, time.UTC)); !ok || name != "Buß- und Bettag" {
		t.Errorf("Buß- und Bettag 2026 in Saxony: %q, %v", name, ok)
	}
	// Two holidays on one day (Ascension on 1 May 2008) keep both names.
	if name, _ := Holiday("NW", time.Date(2008, time.May, 1, 0, 0, 0, 0, time.UTC)); name != "Tag der Arbeit / Christi Himmelfahrt" {
		t.Errorf("1 May 2008: %q", name)
	}
	if _, ok := Holiday("XX", time.Date(2026, time.December, 25, 0, 0, 0, 0, time.UTC)); ok {
		t.Error("an unknown state has holidays")
	}
}
