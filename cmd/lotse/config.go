package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"
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
	return c, errors.Join(errs...)
}
