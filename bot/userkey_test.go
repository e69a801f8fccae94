package bot_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"sync"
	"testing"

	"github.com/lotse-bot/lotse/bot"
)

// TestUserKeyIsHMAC: a user's key is the hex HMAC-SHA256 of the decimal
// id under the secret, cut to 128 bits, however many turns ask for keys
// at once (the bot reuses its keyed hashes).
func TestUserKeyIsHMAC(t *testing.T) {
	h := newHarness(t, mustTestKB(t))
	ids := []int64{0, 1, -1, 7, 42, 1 << 40, -1 << 63, 1<<63 - 1}
	for i := range int64(200) {
		ids = append(ids, i*7919+123456789)
	}
	want := func(id int64) bot.UserKey {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(strconv.FormatInt(id, 10)))
		return bot.UserKey(hex.EncodeToString(m.Sum(nil)[:16]))
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for _, id := range ids {
				if got, w := h.bot.UserKey(id), want(id); got != w {
					t.Errorf("UserKey(%d) = %s, want %s", id, got, w)
					return
				}
			}
		})
	}
	wg.Wait()
}
