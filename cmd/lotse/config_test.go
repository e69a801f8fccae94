package main

import (
	"strings"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot/bottest"
)

// env is a test environment of the variables in m. LOTSE_LOG_COPY, unless
// m sets it, is the suite's log file (bottest.LogFileEnv), so the logs of
// every in-process `lotse run` are checked for canaries by scripts/test.sh.
func env(m map[string]string) func(string) string {
	return func(k string) string {
		if v, ok := m[k]; ok || k != "LOTSE_LOG_COPY" {
			return v
		}
		return bottest.LogFile()
	}
}

func TestLoadConfig(t *testing.T) {
	secret := strings.Repeat("s", 32)
	tests := []struct {
		name    string
		vars    map[string]string
		needTG  bool
		wantErr []string // substrings, one per expected problem
		check   func(t *testing.T, c Config)
	}{
		{name: "defaults without telegram", vars: map[string]string{},
			check: func(t *testing.T, c Config) {
				if !c.SecretGenerated || len(c.Secret) != 32 {
					t.Errorf("want a generated 32-byte secret, got %d bytes generated=%v", len(c.Secret), c.SecretGenerated)
				}
				if c.SessionTTL != 30*24*time.Hour || c.Workers != 8 || c.Namespace != "lotse" {
					t.Errorf("defaults: %+v", c)
				}
			}},
		{name: "token required for run", vars: map[string]string{}, needTG: true,
			wantErr: []string{"TELEGRAM_TOKEN: is not set"}},
		{name: "full", needTG: true, vars: map[string]string{
			"TELEGRAM_TOKEN": "123:abc", "TELEGRAM_API_ENDPOINT": "http://127.0.0.1:8081/bot%s/%s",
			"REDIS_URL": "redis://127.0.0.1:6379/0", "LOTSE_SECRET": secret, "LOTSE_SESSION_TTL": "48h",
			"LOTSE_WORKERS": "4", "LOTSE_LOG_LEVEL": "debug", "LOTSE_LOG_FORMAT": "json", "LOTSE_NAMESPACE": "city-a"},
			check: func(t *testing.T, c Config) {
				if c.SessionTTL != 48*time.Hour || c.Workers != 4 || c.LogFormat != "json" || c.Namespace != "city-a" || c.SecretGenerated {
					t.Errorf("parsed: %+v", c)
				}
			}},
		{name: "redis needs a secret", vars: map[string]string{"REDIS_URL": "redis://x"},
			wantErr: []string{"LOTSE_SECRET: must be set when REDIS_URL"}},
		{name: "every problem reported", needTG: true, vars: map[string]string{
			"TELEGRAM_API_ENDPOINT": "http://127.0.0.1:8081/bot/%s", "LOTSE_SECRET": "short",
			"LOTSE_SESSION_TTL": "forever", "LOTSE_WORKERS": "0", "LOTSE_LOG_LEVEL": "loud", "LOTSE_LOG_FORMAT": "xml"},
			wantErr: []string{"TELEGRAM_TOKEN", "TELEGRAM_API_ENDPOINT: must contain exactly two %s", "LOTSE_SECRET: must be at least 32",
				"LOTSE_SESSION_TTL", "LOTSE_WORKERS", "LOTSE_LOG_LEVEL", "LOTSE_LOG_FORMAT"}},
		{name: "endpoint must be http", vars: map[string]string{"TELEGRAM_API_ENDPOINT": "ftp://h/bot%s/%s"},
			wantErr: []string{"must be an http(s) URL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadConfig(env(tt.vars), tt.needTG)
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if tt.check != nil {
					tt.check(t, c)
				}
				return
			}
			if err == nil {
				t.Fatalf("want errors %q, got none", tt.wantErr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if got := strings.Count(err.Error(), "\n") + 1; got != len(tt.wantErr) {
				t.Errorf("want %d problems, got %d: %v", len(tt.wantErr), got, err)
			}
		})
	}
}

func TestConfigNeverEchoesToken(t *testing.T) {
	tok := "123456:SECRET-token with space"
	_, err := loadConfig(env(map[string]string{"TELEGRAM_TOKEN": tok}), true)
	if err == nil || strings.Contains(err.Error(), "SECRET") {
		t.Fatalf("want an error that does not echo the token, got %v", err)
	}
}
