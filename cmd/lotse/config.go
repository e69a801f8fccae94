package main

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/lotse-bot/lotse/bot/telegram"
)

// Config is everything Lotse reads from the environment. It is the only
// place that knows environment variable names.
type Config struct {
	TelegramToken    string
	TelegramEndpoint string // tgbotapi format: http://host:port/bot%s/%s
	RedisURL         string
	KnowledgeDir     string
	Secret           []byte // keys the pseudonymous user hash
	SecretGenerated  bool
	Namespace        string
	SessionTTL       time.Duration
	PollTimeout      time.Duration
	Workers          int
	LogLevel         slog.Level
	LogFormat        string // "text" or "json"
	// LogCopy, if set, is a file that also receives every record at info
	// level and above as a JSON line, appended (the test suite's log
	// privacy check; see bottest.LogFileEnv).
	LogCopy string
	// Listen is the address of the ops server (health, metrics, webhook).
	Listen string
	// WebhookURL switches from long polling to a webhook; WebhookPath is
	// its path, served on Listen.
	WebhookURL  string
	WebhookPath string
	// WebhookSecret is the secret_token; derived from Secret if not set
	// (WebhookSecretDerived).
	WebhookSecret        string
	WebhookSecretDerived bool
	// StaffFile configures who receives requests for a person; empty:
	// "ask a person" shows the central contact.
	StaffFile string
	// EscalateEvery is how often overdue requests are looked for.
	EscalateEvery time.Duration
	// RetentionEvery is how often closed requests past ClosedRetention
	// lose their personal content.
	RetentionEvery  time.Duration
	ClosedRetention time.Duration
	// PublicURL is the public base URL of the ops server, for the links
	// to the calendar feeds ("" hides them); BotName the bot's username
	// for invitation links.
	PublicURL string
	BotName   string
	// ReportThreshold is the smallest count /report shows.
	ReportThreshold int
	// FloodLimitsOff lifts Telegram's flood limits on our side and the
	// per-user inbound limit: only for measurements with scripted users
	// against a Bot API that does not enforce limits (a fake one).
	FloodLimitsOff bool
}

// configVars documents every variable; README's table mirrors it.
var configVars = []struct{ Name, Default, Help string }{
	{"TELEGRAM_TOKEN", "", "bot token from @BotFather (required for `lotse run`)"},
	{"TELEGRAM_API_ENDPOINT", "Telegram's", "Bot API endpoint in the library's format, e.g. http://127.0.0.1:8081/bot%s/%s"},
	{"REDIS_URL", "(in-memory store)", "redis://, rediss://, unix://, redis-sentinel:// or redis-cluster:// URL"},
	{"LOTSE_KNOWLEDGE_DIR", "(embedded sample)", "directory of curated YAML files"},
	{"LOTSE_SECRET", "(random per process)", "at least 32 characters; keys the hash that replaces Telegram ids in storage. Required with REDIS_URL"},
	{"LOTSE_NAMESPACE", "lotse", "key prefix in Redis, so several bots can share one server"},
	{"LOTSE_SESSION_TTL", "720h", "conversation state expires after this idle time"},
	{"LOTSE_POLL_TIMEOUT", "50s", "long-polling timeout"},
	{"LOTSE_WORKERS", "8", "updates handled concurrently (per-chat order is kept)"},
	{"LOTSE_LOG_LEVEL", "info", "debug, info, warn or error"},
	{"LOTSE_LOG_FORMAT", "text", "text or json"},
	{"LOTSE_LOG_COPY", "(none)", "file that also receives every log record at info level and above as a JSON line, appended (used by the tests' log privacy check)"},
	{"LOTSE_LISTEN", ":8080", "address of the HTTP server for /healthz, /readyz, /metrics and the webhook"},
	{"LOTSE_WEBHOOK_URL", "(long polling)", "public https URL Telegram posts updates to (port 443, 80, 88 or 8443); its path is served on LOTSE_LISTEN"},
	{"LOTSE_WEBHOOK_SECRET", "(derived from LOTSE_SECRET)", "secret_token Telegram sends with every update: 1-256 of A-Z a-z 0-9 _ -. All replicas need the same"},
	{"LOTSE_STAFF_FILE", "(none: show the central contact)", "YAML file mapping every routing target to the staff chat and Telegram user ids that receive requests"},
	{"LOTSE_ESCALATE_INTERVAL", "1m", "how often overdue requests are reminded or escalated"},
	{"LOTSE_FLOOD_LIMITS", "telegram", "telegram: keep Telegram's flood limits (30 messages/s, 1/s per chat, shared by all replicas through Redis) and the per-user inbound limit; off: neither, only for measurements against a test Bot API (lotse replicas)"},
	{"LOTSE_CLOSED_RETENTION", "2160h", "closed or cancelled requests keep their texts, files and names this long (90 days), then only anonymous fields remain"},
	{"LOTSE_RETENTION_INTERVAL", "1h", "how often the retention job looks for closed requests past LOTSE_CLOSED_RETENTION"},
	{"LOTSE_PUBLIC_URL", "(no calendar links)", "public https base URL of LOTSE_LISTEN, for the calendar feed links shown to volunteers (feeds are served at /calendar/<district>.ics)"},
	{"TELEGRAM_BOT_NAME", "(none)", "the bot's username without @, for volunteer invitation links made with /invite"},
	{"LOTSE_REPORT_THRESHOLD", "5", "smallest count /report shows; smaller counts are hidden so nobody can be singled out"},
}

// loadConfig reads the configuration. needTelegram demands a token.
// Every problem is reported, one per line.
func loadConfig(getenv func(string) string, needTelegram bool) (Config, error) {
	c := Config{
		TelegramToken:    strings.TrimSpace(getenv("TELEGRAM_TOKEN")),
		TelegramEndpoint: strings.TrimSpace(getenv("TELEGRAM_API_ENDPOINT")),
		RedisURL:         strings.TrimSpace(getenv("REDIS_URL")),
		KnowledgeDir:     strings.TrimSpace(getenv("LOTSE_KNOWLEDGE_DIR")),
		Namespace:        "lotse",
		SessionTTL:       30 * 24 * time.Hour,
		PollTimeout:      50 * time.Second,
		Workers:          8,
		LogLevel:         slog.LevelInfo,
		LogFormat:        "text",
		Listen:           ":8080",
		WebhookURL:       strings.TrimSpace(getenv("LOTSE_WEBHOOK_URL")),
		StaffFile:        strings.TrimSpace(getenv("LOTSE_STAFF_FILE")),
		LogCopy:          strings.TrimSpace(getenv("LOTSE_LOG_COPY")),
		EscalateEvery:    time.Minute,
		RetentionEvery:   time.Hour,
		ClosedRetention:  90 * 24 * time.Hour,
		PublicURL:        strings.TrimSpace(getenv("LOTSE_PUBLIC_URL")),
		BotName:          strings.TrimPrefix(strings.TrimSpace(getenv("TELEGRAM_BOT_NAME")), "@"),
		ReportThreshold:  5,
	}
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	if needTelegram && c.TelegramToken == "" {
		bad("TELEGRAM_TOKEN", "is not set (get one from @BotFather)")
	}
	if c.TelegramToken != "" && strings.ContainsAny(c.TelegramToken, " /%\t\n") {
		bad("TELEGRAM_TOKEN", "has characters a bot token never contains")
	}
	if e := c.TelegramEndpoint; e != "" {
		if strings.Count(e, "%s") != 2 || strings.Count(e, "%") != 2 {
			bad("TELEGRAM_API_ENDPOINT", "must contain exactly two %%s (token, then method), e.g. http://127.0.0.1:8081/bot%%s/%%s")
		} else if u, err := url.Parse(strings.ReplaceAll(e, "%s", "x")); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("TELEGRAM_API_ENDPOINT", "must be an http(s) URL")
		}
	}
	if s := getenv("LOTSE_SECRET"); s != "" {
		if len(s) < 32 {
			bad("LOTSE_SECRET", "must be at least 32 characters")
		}
		c.Secret = []byte(s)
	} else if c.RedisURL != "" {
		bad("LOTSE_SECRET", "must be set when REDIS_URL is set (replicas and restarts must hash user ids alike)")
	} else {
		c.Secret = make([]byte, 32)
		_, _ = rand.Read(c.Secret)
		c.SecretGenerated = true
	}
	if s := getenv("LOTSE_NAMESPACE"); s != "" {
		if strings.ContainsAny(s, " {}*?[]") {
			bad("LOTSE_NAMESPACE", "must not contain spaces, braces or glob characters")
		}
		c.Namespace = s
	}
	dur := func(name string, dst *time.Duration, min, max time.Duration) {
		s := getenv(name)
		if s == "" {
			return
		}
		d, err := time.ParseDuration(s)
		if err != nil || d < min || d > max {
			bad(name, "must be a duration between %s and %s, e.g. %s", min, max, *dst)
			return
		}
		*dst = d
	}
	dur("LOTSE_SESSION_TTL", &c.SessionTTL, time.Minute, 365*24*time.Hour)
	dur("LOTSE_POLL_TIMEOUT", &c.PollTimeout, 0, 10*time.Minute)
	dur("LOTSE_ESCALATE_INTERVAL", &c.EscalateEvery, time.Second, time.Hour)
	switch s := getenv("LOTSE_FLOOD_LIMITS"); s {
	case "", "telegram":
	case "off":
		c.FloodLimitsOff = true
	default:
		bad("LOTSE_FLOOD_LIMITS", "must be telegram or off")
	}
	dur("LOTSE_CLOSED_RETENTION", &c.ClosedRetention, time.Hour, 366*24*time.Hour)
	dur("LOTSE_RETENTION_INTERVAL", &c.RetentionEvery, time.Second, 24*time.Hour)
	if s := getenv("LOTSE_REPORT_THRESHOLD"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			bad("LOTSE_REPORT_THRESHOLD", "must be a number from 1 to 1000")
		}
		c.ReportThreshold = n
	}
	if u := c.PublicURL; u != "" {
		if p, err := url.Parse(u); err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" || p.RawQuery != "" {
			bad("LOTSE_PUBLIC_URL", "must be an http(s) URL without query, e.g. https://lotse.example.org")
		}
	}
	for _, r := range c.BotName {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			bad("TELEGRAM_BOT_NAME", "must be a Telegram username: letters, digits and _")
			break
		}
	}
	if s := getenv("LOTSE_WORKERS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1024 {
			bad("LOTSE_WORKERS", "must be a number from 1 to 1024")
		}
		c.Workers = n
	}
	if s := getenv("LOTSE_LOG_LEVEL"); s != "" {
		if err := c.LogLevel.UnmarshalText([]byte(s)); err != nil {
			bad("LOTSE_LOG_LEVEL", "must be debug, info, warn or error")
		}
	}
	if s := getenv("LOTSE_LOG_FORMAT"); s != "" {
		if s != "text" && s != "json" {
			bad("LOTSE_LOG_FORMAT", "must be text or json")
		}
		c.LogFormat = s
	}
	if s := strings.TrimSpace(getenv("LOTSE_LISTEN")); s != "" {
		if _, port, err := net.SplitHostPort(s); err != nil || port == "" {
			bad("LOTSE_LISTEN", "must be host:port or :port, e.g. :8080")
		}
		c.Listen = s
	}
	if c.WebhookURL != "" {
		if p, err := webhookPath(c.WebhookURL); err != nil {
			bad("LOTSE_WEBHOOK_URL", "%v", err)
		} else {
			c.WebhookPath = p
		}
	}
	if s := getenv("LOTSE_WEBHOOK_SECRET"); s != "" {
		if !telegram.ValidSecret(s) {
			bad("LOTSE_WEBHOOK_SECRET", "must be 1-256 characters of A-Z a-z 0-9 _ -")
		}
		c.WebhookSecret = s
	} else if c.WebhookURL != "" && len(c.Secret) > 0 {
		// Derived, so replicas sharing LOTSE_SECRET agree without one
		// more secret to distribute; it reveals nothing about LOTSE_SECRET.
		m := hmac.New(sha256.New, c.Secret)
		m.Write([]byte("lotse telegram webhook secret_token"))
		c.WebhookSecret = hex.EncodeToString(m.Sum(nil))
		c.WebhookSecretDerived = true
	}
	return c, errors.Join(errs...)
}

// webhookPath checks a webhook URL against what Telegram accepts and
// returns the path to serve it on.
func webhookPath(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Hostname() == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", errors.New("must be an https URL without user, query or fragment, e.g. https://bot.example.org/telegram")
	}
	switch u.Port() {
	case "", "443", "80", "88", "8443":
	default:
		return "", errors.New("port must be 443, 80, 88 or 8443 (the ports Telegram delivers to)")
	}
	switch p := u.EscapedPath(); p {
	case "", "/":
		return "", errors.New("needs a path, e.g. https://bot.example.org/telegram")
	case "/healthz", "/readyz", "/metrics":
		return "", fmt.Errorf("path %s is taken by the ops server", p)
	default:
		if strings.HasPrefix(p, "/calendar/") {
			return "", fmt.Errorf("path %s is taken by the calendar feeds", p)
		}
		if strings.ContainsAny(p, "{}") {
			return "", errors.New("path must not contain braces")
		}
		return p, nil
	}
}
